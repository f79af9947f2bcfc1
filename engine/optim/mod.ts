/**
 * Optimizers and gradient utilities: `Adam`, `AdamW` (one fused WGSL update per parameter),
 * `clipGradNorm` (on the GPU, no readback) and `zeroGrad`.
 * @module
 */
export { Adam, type AdamOptions, type AdamParamState, type AdamState, AdamW } from "./adam.ts";
export { clipGradNorm } from "./clip.ts";
export { namedParams, type ParamsInput, zeroGrad } from "./optimizer.ts";
