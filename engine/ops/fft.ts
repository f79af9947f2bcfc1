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
 * Sizes: n must be a power of two from 2 to 4096 (the transform is held in 16 KiB of workgroup
 * memory); other sizes are refused with an error rather than computed slowly.
 * @module
 */
import source from "../../shaders/fft.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { pad, slice } from "./movement.ts";

const forwardKernel = new Kernel("rfft", source, "rfft");
const inverseKernel = new Kernel("irfft", source, "irfft");

/** Complex points one workgroup holds (shaders/fft.wgsl POINTS). */
const POINTS = 2048;
/** Largest supported transform length. */
export const MAX_FFT_SIZE = 2 * POINTS;

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
export function fftRowsPerGroup(n: number, rows: number): number {
  return Math.max(1, Math.min(rows, Math.floor(POINTS / (n / 2))));
}

function dispatchFft(
  kernel: Kernel,
  src: Tensor,
  dst: Tensor,
  n: number,
  rows: number,
  edgeScale: number,
  midScale: number,
): void {
  if (rows === 0) return;
  const half = n / 2;
  const rowsPerGroup = fftRowsPerGroup(n, rows);
  rt().dispatch(
    kernel,
    { src: src.buffer, dst: dst.buffer },
    {
      half_n: half,
      rows,
      rows_per_group: rowsPerGroup,
      edge_scale: edgeScale,
      mid_scale: midScale,
      hop: 0,
      n_frames: 0,
      length: 0,
    },
    grid1d(Math.ceil(rows / rowsPerGroup), 1),
  );
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
  dispatchFft(forwardKernel, x, out, n, x.size / n, edgeScale, midScale);
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
  dispatchFft(inverseKernel, spec, out, n, out.size / n, edgeScale, midScale);
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
