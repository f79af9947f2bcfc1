/**
 * Layers: the `Module` base (named parameters, state dicts, train/eval), `Linear`, convolutions,
 * norms, activations and `Sequential`, plus their functional forms.
 * @module
 */
export {
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  type StateDict,
} from "./module.ts";
export { initGenerator, type InitOptions, uniformInit } from "./init.ts";
export { groupNorm, layerNorm, linear } from "./functional.ts";
export { Linear, type LinearOptions } from "./linear.ts";
export {
  Conv1d,
  type Conv1dLayerOptions,
  Conv2d,
  type Conv2dLayerOptions,
  ConvTranspose1d,
  type ConvTranspose1dLayerOptions,
} from "./conv.ts";
export { GroupNorm, LayerNorm, type NormOptions } from "./norm.ts";
export {
  type ActivationFusing,
  ActivationLayer,
  fusesActivation,
  GELU,
  LeakyReLU,
  ReLU,
  Sigmoid,
  Tanh,
} from "./activation.ts";
export { Sequential } from "./sequential.ts";
