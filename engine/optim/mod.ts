/**
 * Optimizers and gradient utilities: `Adam`, `AdamW` (one fused WGSL update per parameter,
 * optionally gated on the GPU), `clipGradNorm` (on the GPU, no readback), `FiniteStepGate` (the
 * skip-non-finite-steps rule, decided on the GPU) and `zeroGrad`.
 * @module
 */
export {
  Adam,
  type AdamOptions,
  type AdamParamState,
  type AdamState,
  type AdamStepOptions,
  AdamW,
} from "./adam.ts";
export { FiniteStepGate, type GateReport } from "./finite_gate.ts";
export { clipGradNorm } from "./clip.ts";
export { namedParams, type ParamsInput, zeroGrad } from "./optimizer.ts";
