/**
 * Long clips through the model in windows. The encoder and decoder are stacks of convolutions,
 * so a reconstructed frame depends only on the frames within the model's reach of it. A clip is
 * cut into cores of at most `coreFrames` frames that start on whole latent steps; each core runs
 * with `contextFrames(config)` frames of its neighbours on both sides (fewer at the clip's ends,
 * where the whole-clip model pads with zeros too), and only the core is kept. Every core then
 * equals the whole clip run at once, up to float rounding, seams included, while GPU buffers
 * stay the size of one window however long the clip. Portable: no Deno APIs.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { blockDilation } from "./blocks.ts";
import type { ModelConfig } from "./config.ts";
import { type MelClip, writeCropChannelsFirst } from "./data.ts";
import type { MelVae } from "./model.ts";

/** Frames per core by default: about a minute of audio, a few MB per activation. */
export const DEFAULT_CORE_FRAMES = 4096;

/**
 * Frames on each side that an encoder-decoder output frame depends on (an upper bound):
 * the first encoder convolution and the last decoder one reach (edgeKernel − 1)/2 frames each,
 * a stride-2 convolution (k4, p1) at 2^s frames per unit reaches 2^s frames beyond its own
 * unit, the latent convolutions (k3) a unit of 2^S frames each, a transposed stride-2
 * convolution (k4, p1) two of its output units, 2^(s+1) frames, and each residual block's
 * dilated k3 convolution its dilation in units of its level (levels 2^0 … 2^S, in both halves).
 */
export function modelReachFrames(config: ModelConfig): number {
  const stages = config.downsampleStages;
  const edge = (config.edgeKernel - 1) / 2;
  let reach = 2 * edge + 2 * 2 ** stages; // edges, and the k3 convolutions at the latent rate
  for (let s = 0; s < stages; s++) reach += 2 ** s + 2 ** (s + 1);
  let dilations = 0;
  for (let i = 0; i < config.residualBlocks; i++) dilations += blockDilation(i);
  reach += 2 * dilations * (2 ** (stages + 1) - 1); // residual blocks at every level, twice
  return reach;
}

/** Context frames a window takes on each side: the reach, in whole latent steps. */
export function contextFrames(config: ModelConfig): number {
  const hop = 2 ** config.downsampleStages;
  return Math.ceil(modelReachFrames(config) / hop) * hop;
}

/**
 * One window: frames [from, to) go through the model, frames [start, end) of its output are
 * kept. from ≤ start < end ≤ to; start, end and from are whole latent steps.
 */
export interface ModelWindow {
  from: number;
  start: number;
  end: number;
  to: number;
}

/**
 * The windows covering `frames` frames (a whole number of latent steps of `hopFactor`): cores of
 * `coreFrames` (rounded down to whole steps, at least one step), each with `context` frames on
 * both sides, clipped to the clip. A clip of at most one core is one window, the whole clip.
 */
export function modelWindows(
  frames: number,
  hopFactor: number,
  context: number,
  coreFrames = DEFAULT_CORE_FRAMES,
): ModelWindow[] {
  if (frames % hopFactor !== 0) {
    throw new Error(`modelWindows: ${frames} frames are not whole latent steps of ${hopFactor}`);
  }
  const core = Math.max(hopFactor, Math.floor(coreFrames / hopFactor) * hopFactor);
  const out: ModelWindow[] = [];
  for (let start = 0; start < frames; start += core) {
    const end = Math.min(frames, start + core);
    out.push({
      from: Math.max(0, start - context),
      start,
      end,
      to: Math.min(frames, end + context),
    });
  }
  return out;
}

/** The model's tensors for one window's core (z = μ). */
export interface CoreOutputs {
  /** Normalised input frames [1, nMels, end − start]. */
  x: ag.Tensor;
  /** Posterior mean and log-variance [1, latentDim, (end − start) / hopFactor]. */
  mu: ag.Tensor;
  logvar: ag.Tensor;
  /** Normalised reconstruction (the decoder's mean at z = μ) [1, nMels, end − start]. */
  xHat: ag.Tensor;
}

/**
 * Encoder and decoder (z = μ) over one window: `logMel` [1, nMels, to − from] holds the window's
 * frames [from, to), channels-first, not normalised; the result is cut to its core
 * [start, end). Inference only (no gradients); call inside a `tidy`.
 */
export function coreForward(model: MelVae, logMel: ag.Tensor, w: ModelWindow): CoreOutputs {
  const at = w.start - w.from, n = w.end - w.start;
  return ag.noGrad(() => {
    const x = model.normalize(logMel);
    const { mu, logvar } = model.encoder.encode(x);
    const xHat = model.decoder.forward(mu);
    const h = model.hopFactor;
    return {
      x: x.slice(2, at, at + n),
      mu: mu.slice(2, at / h, (at + n) / h),
      logvar: logvar.slice(2, at / h, (at + n) / h),
      xHat: xHat.slice(2, at, at + n),
    };
  });
}

/**
 * Runs the model over a clip (cut to whole latent steps) window by window, calling `use` with
 * each core's outputs in order (inside a `tidy`: they are freed when it returns). Returns the
 * frames used (0 for a clip shorter than one latent step: `use` is not called).
 */
export async function forEachCore(
  model: MelVae,
  clip: MelClip,
  use: (outputs: CoreOutputs, w: ModelWindow) => Promise<void> | void,
  coreFrames = DEFAULT_CORE_FRAMES,
): Promise<number> {
  const nMels = model.config.features.nMels;
  const frames = model.wholeLatentFrames(clip.frames);
  const windows = frames === 0
    ? []
    : modelWindows(frames, model.hopFactor, contextFrames(model.config), coreFrames);
  for (const w of windows) {
    const logMel = new Float32Array(nMels * (w.to - w.from));
    writeCropChannelsFirst(clip, nMels, w.from, w.to - w.from, logMel, 0);
    await ag.tidy(() =>
      use(coreForward(model, ag.tensor(logMel, [1, nMels, w.to - w.from]), w), w)
    );
  }
  return frames;
}
