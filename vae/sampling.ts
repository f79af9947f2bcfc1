/**
 * Sampling from a trained VAE, as streams of log-mel frames (time-major [frames, nMels] pieces,
 * not normalised) of any length: frames decoded from the prior, and audio's frames
 * reconstructed through the encoder (z = μ) and decoder. Both run the model window by window
 * (vae/windows.ts), so GPU memory holds one window however long the stream (`generate`);
 * `samplePrior` and `reconstructAudio` give the same frames at once for short clips (the
 * training report, the browser page). Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { LogMel } from "../audio/features.ts";
import { FrameQueue } from "../audio/frame_queue.ts";
import { ConfigError, type ModelConfig } from "./config.ts";
import type { MelVae } from "./model.ts";
import { contextFrames, coreForward, DEFAULT_CORE_FRAMES, type ModelWindow } from "./windows.ts";

/** Latent steps of a prior sample of `seconds` (at least one). */
export function priorLatentSteps(config: ModelConfig, seconds: number): number {
  const { sampleRate, hop } = config.features;
  return Math.max(1, Math.ceil((seconds * sampleRate) / hop / 2 ** config.downsampleStages));
}

/**
 * Prior samples z ~ N(0, T²·I) of latent steps [from, to), [1, latentDim, to − from]: drawn
 * time-major from the seed's stream (step t owns values t·latentDim … (t+1)·latentDim − 1), so
 * that any window of a long sample draws just its own steps, the same values whatever the
 * window.
 */
function priorLatents(
  model: MelVae,
  from: number,
  to: number,
  seed: number,
  temperature: number,
): ag.Tensor {
  const latent = model.config.latentDim;
  const generator = new ag.Generator(seed, from * latent);
  const z = ag.randn([to - from, latent], { generator, std: temperature });
  return z.transpose(0, 1).reshape([1, latent, to - from]);
}

/**
 * Log-mel frames [1, frames, nMels] decoded from a prior sample of `seconds` at once (frames =
 * {@link priorLatentSteps} · hopFactor), for short samples (the report, the browser page); the
 * same frames {@link streamPrior} yields in pieces.
 */
export function samplePrior(
  model: MelVae,
  seconds: number,
  seed: number,
  temperature = 1,
): ag.Tensor {
  const steps = priorLatentSteps(model.config, seconds);
  return ag.noGrad(() => {
    const z = priorLatents(model, 0, steps, seed, temperature);
    return model.denormalize(model.decoder.forward(z)).transpose(1, 2);
  });
}

/**
 * Log-mel frames decoded from a prior sample of `seconds`, yielded a core at a time (time-major
 * [frames, nMels] pieces): the decoder runs in windows with its reach of context (vae/windows.ts),
 * so any length takes the memory of one window.
 */
export async function* streamPrior(
  model: MelVae,
  opts: { seconds: number; seed: number; temperature?: number; coreFrames?: number },
): AsyncGenerator<Float32Array> {
  const steps = priorLatentSteps(model.config, opts.seconds);
  const hf = model.hopFactor;
  const context = contextFrames(model.config) / hf;
  const core = Math.max(1, Math.floor((opts.coreFrames ?? DEFAULT_CORE_FRAMES) / hf));
  for (let start = 0; start < steps; start += core) {
    const end = Math.min(steps, start + core);
    const from = Math.max(0, start - context), to = Math.min(steps, end + context);
    yield await ag.tidy(() =>
      ag.noGrad(() => {
        const z = priorLatents(model, from, to, opts.seed, opts.temperature ?? 1);
        const x = model.decoder.forward(z).slice(2, (start - from) * hf, (end - from) * hf);
        return model.denormalize(x).transpose(1, 2);
      }).toArray()
    );
  }
}

/**
 * Log-mel frames [1, frames, nMels] of `samples` (at the model's rate) reconstructed through the
 * model at once (z = μ), for short clips (the browser page); {@link streamReconstruction} takes
 * any length.
 * @throws {ConfigError} when the clip is shorter than one latent step
 */
export function reconstructAudio(model: MelVae, samples: Float32Array): ag.Tensor {
  const logMel = new LogMel(model.config.features);
  try {
    return ag.noGrad(() => {
      const mel = logMel.forward(ag.tensor(samples, [1, samples.length])); // [1, nMels, F]
      const frames = model.wholeLatentFrames(mel.shape[2]);
      if (frames === 0) throw new ConfigError("the input is too short to encode");
      const whole = { from: 0, start: 0, end: frames, to: frames };
      const { xHat } = coreForward(model, mel.slice(2, 0, frames), whole);
      return model.denormalize(xHat).transpose(1, 2);
    });
  } finally {
    logMel.dispose();
  }
}

/**
 * The reconstruction (z = μ) of a stream of log-mel frames (pieces of any size), yielded a core
 * at a time: the input's frames cut to whole latent steps, as the whole-clip model gives them.
 * @throws {ConfigError} when the input is shorter than one latent step
 */
export async function* streamReconstruction(
  model: MelVae,
  logMelFrames: AsyncIterable<Float32Array> | Iterable<Float32Array>,
  coreFrames = DEFAULT_CORE_FRAMES,
): AsyncGenerator<Float32Array> {
  const nMels = model.config.features.nMels;
  const hf = model.hopFactor;
  const context = contextFrames(model.config);
  const core = Math.max(hf, Math.floor(coreFrames / hf) * hf);
  const queue = new FrameQueue(nMels, core + 2 * context);
  const run = async (w: ModelWindow) => {
    const frames = queue.read(w.from, w.to);
    const out = await ag.tidy(() => {
      const x = ag.tensor(frames, [1, w.to - w.from, nMels]).transpose(1, 2);
      return model.denormalize(coreForward(model, x, w).xHat).transpose(1, 2).toArray();
    });
    queue.drop(w.end - context);
    return out;
  };
  let start = 0;
  for await (const piece of logMelFrames) {
    queue.push(piece);
    // A core is final once its context after it has arrived.
    while (queue.end >= start + core + context) {
      const end = start + core;
      yield await run({ from: Math.max(0, start - context), start, end, to: end + context });
      start = end;
    }
  }
  const frames = model.wholeLatentFrames(queue.end);
  if (frames === 0) {
    throw new ConfigError(
      `the input is too short to encode: ${queue.end} frames, fewer than one latent step (${hf})`,
    );
  }
  for (; start < frames; start += core) {
    const end = Math.min(frames, start + core);
    const to = Math.min(frames, end + context);
    yield await run({ from: Math.max(0, start - context), start, end, to });
  }
}
