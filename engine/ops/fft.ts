/**
 * Real FFTs along the last axis: {@link rfft} and its inverse {@link irfft}, with PyTorch's
 * layout and normalisation (`view_as_real(torch.fft.rfft(x))`, `torch.fft.irfft(X, n)`).
 * One kernel file (shaders/fft.wgsl) holds both directions, and each op's gradient is the other
 * direction with weighted bins:
 *
 * - rfft: X[k] = Σ_j x[j]·e^{−2πijk/n} for k = 0..n/2. For a loss with gradient G = ∂L/∂Re X +
 *   i·∂L/∂Im X, ∂L/∂x[j] = Re Σ_k G[k]·e^{2πijk/n}. irfft(H)[j] = (1/n)·(Re H[0] + Re H[n/2]·(−1)^j
 *   + 2·Re Σ_{0<k<n/2} H[k]·e^{2πijk/n}), so dx = irfft(G′) with G′ = n·G on bins 0 and n/2 (whose
 *   imaginary parts carry no gradient: Im X[0] = Im X[n/2] = 0 for every x) and n/2·G inside.
 * - irfft: x[j] = (1/n)·(Re X[0] + Re X[n/2]·(−1)^j + 2·Σ_{0<k<n/2} (Re X[k]·cos θ − Im X[k]·sin θ)),
 *   θ = 2πjk/n, so ∂L/∂Re X[k] − i·… collects to dX = c_k/n · rfft(g)[k], c = 1 on bins 0 and n/2
 *   and 2 inside; the imaginary parts of bins 0 and n/2 (ignored by irfft) get exactly 0.
 *
 * Sizes: n must be a power of two from 2 to 4096 (the workgroup variant holds a transform in 16
 * KiB of workgroup memory); other sizes are refused with an error rather than computed slowly.
 * Two kernel files compute the same transforms, picked per adapter ({@link fftVariant}):
 * shaders/fft.wgsl for GPUs, shaders/fft_frame.wgsl for CPU drivers, each with
 * shaders/fft_functions.wgsl (uniforms, common bindings, complex arithmetic, twiddles, the window,
 * the 8-point DFT) prepended.
 * @module
 */
import source from "../../shaders/fft.wgsl" with { type: "text" };
import frameSource from "../../shaders/fft_frame.wgsl" with { type: "text" };
import functions from "../../shaders/fft_functions.wgsl" with { type: "text" };
import { bucketSize } from "../buffer_pool.ts";
import { currentAdapter } from "../device.ts";
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { pad, slice } from "./movement.ts";

/** The entry points both FFT kernel files have (rfft, irfft, and stft.ts's stft_power). */
export type FftEntry = "rfft" | "irfft" | "stft_power";

/**
 * Which FFT kernels run: "workgroup" (shaders/fft.wgsl: a workgroup shares each transform in
 * workgroup memory, with a barrier per pass — for GPUs) or "frame" (shaders/fft_frame.wgsl: one
 * frame per invocation, in a scratch storage buffer, no barriers — for CPU drivers such as
 * lavapipe, whose SIMD lanes then transform several frames side by side, and where every
 * workgroup-memory access and barrier is a loop over those lanes).
 */
export type FftVariant = "workgroup" | "frame";

/**
 * The variant in use: the runtime's kernel choice when set, else "workgroup". The frame kernels
 * (2–3× faster on lavapipe) are opt-in only: they bind one buffer to two writable bindings
 * (scratch as vec4f and vec2f, dst as vec2f and vec4f, dst and power), which WebGPU forbids —
 * Chrome refuses the dispatch ("writable storage buffer binding aliasing"), while Deno's wgpu
 * does not check it. Until they bind each buffer once, no adapter gets them by default.
 */
export function fftVariant(): FftVariant {
  return rt().kernelChoices.fftVariant ?? "workgroup";
}

const ENTRIES = ["rfft", "irfft", "stft_power"] as const;
const workgroupKernels = new Map<FftEntry, Kernel>(
  ENTRIES.map((e) => [e, new Kernel(e, `${functions}\n${source}`, e)]),
);
const frameKernels = new Map<FftEntry, Kernel>(
  ENTRIES.map((e) => [e, new Kernel(`${e}_frame`, `${functions}\n${frameSource}`, e)]),
);

/** Complex points one workgroup of shaders/fft.wgsl holds (its POINTS). */
const POINTS = 2048;
/** Largest supported transform length. */
export const MAX_FFT_SIZE = 2 * POINTS;
/** Rows per workgroup of shaders/fft_frame.wgsl (its ROWS_PER_GROUP). */
const FRAME_ROWS_PER_GROUP = 16;

/** Throws unless n is a supported transform length (a power of two, 2..MAX_FFT_SIZE). */
export function checkSize(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 2 || n > MAX_FFT_SIZE || (n & (n - 1)) !== 0) {
    throw new Error(
      `${op}: length ${n} is not supported; the FFT kernel needs a power of two from 2 to ` +
        `${MAX_FFT_SIZE} (pad or crop the signal to one)`,
    );
  }
}

/** Rows of an n-point transform that one workgroup of shaders/fft.wgsl takes at once. */
function fftRowsPerGroup(n: number, rows: number): number {
  return Math.max(1, Math.min(rows, Math.floor(POINTS / (n / 2))));
}

/** Uniforms of both FFT kernel files besides the row layout. */
export interface FftParams {
  edgeScale: number;
  midScale: number;
  /** stft_power's framing (0 for rfft and irfft). */
  hop: number;
  nFrames: number;
  length: number;
}

/** The buffers of an FFT dispatch: src and dst (rfft, irfft) or signal and power (stft_power). */
export interface FftBuffers {
  src?: GPUBuffer;
  dst?: GPUBuffer;
  signal?: GPUBuffer;
  power?: GPUBuffer;
}

/**
 * Records entry point `entry` of the FFT kernels of the variant in use ({@link fftVariant}) over
 * `rows` rows of n-point transforms.
 */
export function dispatchFft(
  entry: FftEntry,
  io: FftBuffers,
  n: number,
  rows: number,
  p: FftParams,
  constants: Record<string, number> = {},
): void {
  if (rows === 0) return;
  const half = n / 2;
  // The frame kernels work in two scratch regions of M complex values per row; a batch whose
  // scratch would not fit one storage binding runs on the workgroup kernels instead.
  const scratchBytes = Math.max(16, rows * half * 16);
  const limits = currentAdapter()?.limits;
  const frame = fftVariant() === "frame" &&
    bucketSize(scratchBytes) <=
      Math.min(limits?.maxStorageBufferBindingSize ?? Infinity, limits?.maxBufferSize ?? Infinity);
  const rowsPerGroup = frame ? FRAME_ROWS_PER_GROUP : fftRowsPerGroup(n, rows);
  const input = (io.src ?? io.signal)!;
  const output = (io.dst ?? io.power)!;
  const scratch = frame ? rt().allocate(scratchBytes) : null;
  // Bindings an entry point does not read or write still need a buffer of the right kind.
  const buffers: Record<string, GPUBuffer> = {
    src: io.src ?? input,
    src4: io.src ?? input,
    signal: io.signal ?? input,
    dst: io.dst ?? output,
    dst4: io.dst ?? output,
    power: io.power ?? output,
  };
  if (scratch) Object.assign(buffers, { scratch, scratch2: scratch });
  rt().dispatch(
    (frame ? frameKernels : workgroupKernels).get(entry)!,
    buffers,
    {
      half_n: half,
      rows,
      rows_per_group: rowsPerGroup,
      edge_scale: p.edgeScale,
      mid_scale: p.midScale,
      hop: p.hop,
      n_frames: p.nFrames,
      length: p.length,
    },
    grid1d(Math.ceil(rows / rowsPerGroup), 1),
    frame ? { ...constants, M: half } : constants,
  );
  // Released at once: the pool hands it out again only to work recorded after this dispatch.
  if (scratch) rt().release(scratch);
}

function dispatchTransform(
  entry: "rfft" | "irfft",
  src: Tensor,
  dst: Tensor,
  n: number,
  rows: number,
  edgeScale: number,
  midScale: number,
): void {
  dispatchFft(entry, { src: src.buffer, dst: dst.buffer }, n, rows, {
    edgeScale,
    midScale,
    hop: 0,
    nFrames: 0,
    length: 0,
  });
}

/**
 * The rfft kernel alone (no graph): x [..., n] → [..., n/2+1, 2], with bins 0 and n/2 multiplied
 * by `edgeScale` and the others by `midScale`.
 */
export function rfftRaw(x: Tensor, edgeScale = 1, midScale = 1): Tensor {
  if (x.ndim === 0) throw new Error("rfft: input must have at least one dimension");
  const n = x.shape[x.ndim - 1];
  checkSize("rfft", n);
  const out = Tensor.empty([...x.shape.slice(0, -1), n / 2 + 1, 2]);
  dispatchTransform("rfft", x, out, n, x.size / n, edgeScale, midScale);
  return out;
}

/**
 * The irfft kernel alone (no graph): X [..., n/2+1, 2] → [..., n], after multiplying bins 0 and
 * n/2 by `edgeScale` and the others by `midScale`.
 */
export function irfftRaw(spec: Tensor, n: number, edgeScale = 1, midScale = 1): Tensor {
  checkSize("irfft", n);
  const bins = n / 2 + 1;
  if (spec.ndim < 2 || spec.shape[spec.ndim - 1] !== 2 || spec.shape[spec.ndim - 2] !== bins) {
    throw new Error(`irfft: spectrum [${spec.shape}] is not [..., ${bins}, 2] for n = ${n}`);
  }
  const out = Tensor.empty([...spec.shape.slice(0, -2), n]);
  dispatchTransform("irfft", spec, out, n, out.size / n, edgeScale, midScale);
  return out;
}

/**
 * FFT of a real signal along the last axis: x [..., n] → [..., n/2+1, 2] (real, imaginary),
 * like `torch.view_as_real(torch.fft.rfft(x))`. n must be a power of two, 2..4096.
 * Differentiable.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.tensor([1, 0, 0, 0], [4]);
 * const X = ag.rfft(x); // [3, 2]: every bin is 1 + 0i
 * console.log(await X.toArray());
 * ```
 */
export function rfft(x: Tensor): Tensor {
  const out = rfftRaw(x);
  const n = x.shape[x.ndim - 1];
  return record(out, "rfft", [x], (g) => [irfftRaw(g, n, n, n / 2)]);
}

/**
 * Inverse of {@link rfft}: a Hermitian half spectrum [..., bins, 2] → real signal [..., n], with
 * 1/n normalisation, like `torch.fft.irfft(torch.view_as_complex(X), n)`. The imaginary parts of
 * bins 0 and n/2 are ignored. `n` defaults to 2·(bins − 1); extra bins are dropped and missing
 * ones taken as zero, as torch does. Differentiable.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.tensor([1, 2, 3, 4], [4]);
 * const y = ag.irfft(ag.rfft(x), 4); // ≈ [1, 2, 3, 4]
 * console.log(await y.toArray());
 * ```
 */
export function irfft(spec: Tensor, n?: number): Tensor {
  if (spec.ndim < 2 || spec.shape[spec.ndim - 1] !== 2) {
    throw new Error(`irfft: spectrum [${spec.shape}] is not [..., bins, 2] (real, imaginary)`);
  }
  const have = spec.shape[spec.ndim - 2];
  const len = n ?? 2 * (have - 1);
  checkSize("irfft", len);
  const bins = len / 2 + 1;
  let input = spec;
  if (have > bins) input = slice(spec, -2, 0, bins);
  else if (have < bins) input = pad(spec, [0, 0, 0, bins - have]);
  const out = irfftRaw(input, len);
  return record(out, "irfft", [input], (g) => [rfftRaw(g, 1 / len, 2 / len)]);
}
