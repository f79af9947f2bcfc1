/**
 * Short-time Fourier transform and its inverse, composed of framing (a gather kernel), the real
 * FFT ({@link rfft}/{@link irfft}) and overlap-add (the framing's adjoint, also a gather), so
 * both are differentiable with no gradient of their own. Kernels: shaders/fft_frames.wgsl.
 * Frames follow torch.stft(center=True, pad_mode="reflect", onesided, normalized=False), with
 * the output laid out [..., frames, nFft/2+1, 2] (real, imaginary). {@link stftPower} is the
 * power spectrogram |stft|² from one fused kernel (`stft_power` of the FFT kernel files, either
 * variant: engine/ops/fft.ts).
 * @module
 */
import source from "../../shaders/fft_frames.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { checkSize, dispatchFft, irfft, irfftRaw, rfft, rfftRaw } from "./fft.ts";
import { pad, slice } from "./movement.ts";

const frameKernel = new Kernel("stft_frame", source, "frame");
const overlapAddKernel = new Kernel("stft_overlap_add", source, "overlap_add");

/** A window applied to every frame: periodic Hann (like `torch.hann_window(n)`) or none. */
export type WindowKind = "hann" | "rectangular";

const WINDOW_CODES: Record<WindowKind, number> = { rectangular: 0, hann: 1 };

/** Framing options shared by {@link stftFrames} and {@link overlapAdd}. */
export interface FrameOptions {
  /** Frame length in samples. */
  nFft: number;
  /** Hop between frame starts, in samples. */
  hop: number;
  /** Window multiplied into each frame (default "hann"). */
  window?: WindowKind;
  /** Divide by the overlapped window energy Σ_f w[t − f·hop]² (floored at 1e-11). */
  normalize?: boolean;
}

function checkFraming(op: string, nFft: number, hop: number): void {
  if (!Number.isInteger(nFft) || nFft < 1 || !Number.isInteger(hop) || hop < 1) {
    throw new Error(`${op}: nFft ${nFft} and hop ${hop} must be positive integers`);
  }
}

function framesRaw(
  x: Tensor,
  nFrames: number,
  opts: FrameOptions,
): Tensor {
  const length = x.shape[x.ndim - 1];
  const batch = x.size / Math.max(1, length);
  const out = Tensor.empty([...x.shape.slice(0, -1), nFrames, opts.nFft]);
  if (out.size > 0) {
    rt().dispatch(
      frameKernel,
      { src: x.buffer, dst: out.buffer },
      {
        n_fft: opts.nFft,
        hop: opts.hop,
        n_frames: nFrames,
        length,
        total: batch * nFrames * opts.nFft,
      },
      grid1d(out.size, 256),
      {
        WINDOW: WINDOW_CODES[opts.window ?? "hann"],
        NORMALIZE: opts.normalize ? 1 : 0,
      },
    );
  }
  return out;
}

function overlapAddRaw(frames: Tensor, length: number, opts: FrameOptions): Tensor {
  const nFrames = frames.shape[frames.ndim - 2];
  const out = Tensor.empty([...frames.shape.slice(0, -2), length]);
  if (out.size > 0) {
    rt().dispatch(
      overlapAddKernel,
      { src: frames.buffer, dst: out.buffer },
      {
        n_fft: opts.nFft,
        hop: opts.hop,
        n_frames: nFrames,
        length,
        total: out.size,
      },
      grid1d(out.size, 256),
      {
        WINDOW: WINDOW_CODES[opts.window ?? "hann"],
        NORMALIZE: opts.normalize ? 1 : 0,
      },
    );
  }
  return out;
}

/**
 * Cuts x [..., T] into windowed frames [..., frames, nFft], frame f holding
 * x[f·hop .. f·hop + nFft) · window, frames = 1 + ⌊(T − nFft) / hop⌋. No padding (see
 * {@link stft}). Differentiable: the gradient is {@link overlapAdd} with the same options.
 */
export function stftFrames(x: Tensor, opts: FrameOptions): Tensor {
  checkFraming("stftFrames", opts.nFft, opts.hop);
  if (x.ndim === 0) throw new Error("stftFrames: input must have at least one dimension");
  const length = x.shape[x.ndim - 1];
  if (length < opts.nFft) {
    throw new Error(`stftFrames: signal of ${length} samples is shorter than nFft ${opts.nFft}`);
  }
  const nFrames = 1 + Math.floor((length - opts.nFft) / opts.hop);
  const out = framesRaw(x, nFrames, opts);
  return record(out, "stftFrames", [x], (g) => [overlapAddRaw(g, length, opts)]);
}

/**
 * Overlap-adds windowed frames [..., frames, nFft] into a signal [..., length] (default
 * (frames − 1)·hop + nFft): out[t] = Σ_f frames[f, t − f·hop] · window[t − f·hop], divided by
 * Σ_f window[t − f·hop]² when `normalize`. Differentiable: the gradient is
 * {@link stftFrames} with the same options.
 */
export function overlapAdd(frames: Tensor, opts: FrameOptions & { length?: number }): Tensor {
  checkFraming("overlapAdd", opts.nFft, opts.hop);
  if (frames.ndim < 2 || frames.shape[frames.ndim - 1] !== opts.nFft) {
    throw new Error(`overlapAdd: frames [${frames.shape}] are not [..., frames, ${opts.nFft}]`);
  }
  const nFrames = frames.shape[frames.ndim - 2];
  const length = opts.length ?? (nFrames - 1) * opts.hop + opts.nFft;
  const out = overlapAddRaw(frames, length, opts);
  return record(out, "overlapAdd", [frames], (g) => [framesRaw(g, nFrames, opts)]);
}

/** Options of {@link stft}. */
export interface StftOptions {
  /** FFT size = frame length (a power of two, 2..4096). */
  nFft: number;
  /** Hop between frames in samples (default nFft / 4, as torch). */
  hop?: number;
  /** Window (default "hann", periodic). */
  window?: WindowKind;
  /** Reflect-pad nFft/2 samples on each side so frame f is centred on sample f·hop. */
  center?: boolean;
}

/**
 * Short-time Fourier transform: signal [..., T] → [..., frames, nFft/2+1, 2] (real, imaginary),
 * frames = 1 + ⌊(T + 2·(nFft/2 if center) − nFft) / hop⌋. Matches
 * `view_as_real(torch.stft(x, nFft, hop, window=hann_window(nFft), center, pad_mode="reflect",
 * return_complex=True)).transpose(-3, -2)`. Differentiable.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.randn([16000], { seed: 1 });
 * const spec = ag.stft(x, { nFft: 1024, hop: 256 }); // [63, 513, 2]
 * console.log(spec.shape);
 * ```
 */
export function stft(signal: Tensor, opts: StftOptions): Tensor {
  const { nFft, center = true } = opts;
  const hop = opts.hop ?? Math.floor(nFft / 4);
  const padded = center ? pad(signal, [nFft / 2, nFft / 2].map(Math.floor), "reflect") : signal;
  const frames = stftFrames(padded, { nFft, hop, window: opts.window });
  return rfft(frames);
}

/** The stft_power kernel alone (no graph): x [..., T] → [..., nFrames, nFft/2+1]. */
function stftPowerRaw(x: Tensor, nFrames: number, opts: FrameOptions): Tensor {
  const length = x.shape[x.ndim - 1];
  const bins = opts.nFft / 2 + 1;
  const out = Tensor.empty([...x.shape.slice(0, -1), nFrames, bins]);
  dispatchFft(
    "stft_power",
    { signal: x.buffer, power: out.buffer },
    opts.nFft,
    out.size / bins,
    { edgeScale: 1, midScale: 1, hop: opts.hop, nFrames, length },
    { WINDOW: WINDOW_CODES[opts.window ?? "hann"] },
  );
  return out;
}

/**
 * Power spectrogram |stft(signal)|²: signal [..., T] → [..., frames, nFft/2+1], equal to
 * `stft(signal, opts).square().sum(-1)` but framed, transformed and squared in one kernel that
 * writes neither the frames nor the complex spectrum. Differentiable: for upstream gradient g,
 * ∂L/∂X = 2·g·X (X recomputed), carried back through rfft's and the framing's gradients.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.randn([16000], { seed: 1 });
 * const power = ag.stftPower(x, { nFft: 1024, hop: 256 }); // [63, 513]
 * console.log(power.shape);
 * ```
 */
export function stftPower(signal: Tensor, opts: StftOptions): Tensor {
  const { nFft, center = true } = opts;
  checkSize("stftPower", nFft);
  const hop = opts.hop ?? Math.floor(nFft / 4);
  checkFraming("stftPower", nFft, hop);
  if (signal.ndim === 0) throw new Error("stftPower: input must have at least one dimension");
  const x = center ? pad(signal, [nFft / 2, nFft / 2], "reflect") : signal;
  const length = x.shape[x.ndim - 1];
  if (length < nFft) {
    throw new Error(`stftPower: signal of ${length} samples is shorter than nFft ${nFft}`);
  }
  const framing: FrameOptions = { nFft, hop, window: opts.window };
  const nFrames = 1 + Math.floor((length - nFft) / hop);
  const out = stftPowerRaw(x, nFrames, framing);
  return record(out, "stftPower", [x], (g) => {
    const spec = rfftRaw(framesRaw(x, nFrames, framing));
    const dSpec = spec.mul(g.mul(2).reshape([...g.shape, 1]));
    return [overlapAddRaw(irfftRaw(dSpec, nFft, nFft, nFft / 2), length, framing)];
  });
}

/** Options of {@link istft}. */
export interface IstftOptions extends StftOptions {
  /** Samples to return (default: all the frames cover, less the centre padding). */
  length?: number;
}

/**
 * Inverse of {@link stft}: irfft of each frame, × window, overlap-add, ÷ Σ window², and the
 * centre padding trimmed; spec [..., frames, nFft/2+1, 2] → [..., length]. Like torch.istft.
 * Differentiable.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.randn([4000], { seed: 1 });
 * const y = ag.istft(ag.stft(x, { nFft: 256, hop: 64 }), { nFft: 256, hop: 64, length: 4000 });
 * console.log(y.shape); // [4000], values ≈ x
 * ```
 */
export function istft(spec: Tensor, opts: IstftOptions): Tensor {
  const { nFft, center = true } = opts;
  const hop = opts.hop ?? Math.floor(nFft / 4);
  const frames = irfft(spec, nFft);
  const nFrames = frames.shape[frames.ndim - 2];
  const covered = (nFrames - 1) * hop + nFft;
  const signal = overlapAdd(frames, {
    nFft,
    hop,
    window: opts.window,
    normalize: true,
    length: covered,
  });
  const start = center ? Math.floor(nFft / 2) : 0;
  const available = covered - start - (center ? Math.floor(nFft / 2) : 0);
  const length = opts.length ?? available;
  const end = start + length;
  if (end <= covered) {
    return start === 0 && end === covered ? signal : slice(signal, -1, start, end);
  }
  // Asked for more samples than the frames cover: zeros, as torch.istft does.
  const kept = slice(signal, -1, start, covered);
  return pad(kept, [0, end - covered]);
}
