/**
 * The engine: f32 tensors on WebGPU with reverse-mode autograd and hand-written WGSL kernels.
 *
 * @example
 * ```ts
 * import * as ag from "./mod.ts";
 * await ag.init();
 * const x = ag.tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
 * const y = ag.randn([3, 4], { seed: 1 });
 * const z = x.matmul(y).relu().sum();
 * z.backward();
 * console.log(await x.grad!.toArray());
 * ```
 * @module
 */
import "./methods.ts";

export {
  type AdapterReport,
  adapterReport,
  configureDevice,
  type DeviceOptions,
  NoAdapterError,
} from "./device.ts";
export {
  BufferLimitError,
  counters,
  GpuError,
  init,
  type KernelChoices,
  rt,
  type Runtime,
  type RuntimeCounters,
  shutdown,
} from "./runtime.ts";
export {
  type GradFn,
  isGradEnabled,
  noGrad,
  numel,
  type Shape,
  stridesOf,
  Tensor,
  type TensorOptions,
  tidy,
} from "./tensor.ts";
export { full, ones, onesLike, scalar, tensor, zeros, zerosLike } from "./ops/creation.ts";
export {
  defaultGenerator,
  Generator,
  type GeneratorState,
  manualSeed,
  rand,
  randn,
} from "./random.ts";
export {
  BINARY_OPS,
  type BinaryOp,
  type BinaryOpSpec,
  UNARY_OPS,
  type UnaryOp,
  type UnaryOpSpec,
} from "./ops/elementwise_table.ts";
export { binary } from "./ops/binary.ts";
export { clone, unary } from "./ops/unary.ts";
export { type Activation } from "./ops/bias_act.ts";
export {
  fusedGaussianNll,
  fusedKlStandardNormal,
  fusedLaplaceNll,
  fusedReparameterize,
} from "./ops/fused.ts";
export { logsumexp, max, mean, min, sum } from "./ops/reduce.ts";
export {
  concat,
  expand,
  flip,
  pad,
  type PadMode,
  permute,
  reshape,
  slice,
  transpose,
} from "./ops/movement.ts";
export { matmul } from "./ops/matmul.ts";
export { bandedMatmul, BandedMatrix } from "./ops/banded.ts";
export { broadcastShapes } from "./ops/broadcast.ts";
export {
  conv1d,
  type Conv1dOptions,
  conv2d,
  type Conv2dOptions,
  convTranspose1d,
  type ConvTranspose1dOptions,
} from "./ops/conv.ts";
export { layerNormLastAxis } from "./ops/layer_norm.ts";
export { logMagnitudePhasor, PHASOR_EPS } from "./ops/phasor.ts";
export { depthwiseConv1d, type DepthwiseConv1dOptions } from "./ops/depthwise_conv.ts";
export { irfft, irfftRaw, MAX_FFT_SIZE, rfft, rfftRaw } from "./ops/fft.ts";
export {
  type FrameOptions,
  istft,
  type IstftOptions,
  overlapAdd,
  stft,
  stftFrames,
  type StftOptions,
  stftPower,
  type WindowKind,
} from "./ops/stft.ts";
export {
  type AutotuneOptions,
  enableAutotune,
  MemoryTuneStore,
  resetAutotune,
  tune,
  tunedChoices,
  tunePending,
  type TuneStore,
} from "./autotune.ts";
export * from "./nn/mod.ts";
export * from "./optim/mod.ts";
