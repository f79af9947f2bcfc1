/**
 * Sampling from a trained VAE: log-mel frames decoded from the prior, and audio reconstructed
 * through the encoder (z = μ) and decoder. Shared by `generate`, the training report and
 * `listen`. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { LogMel } from "../audio/features.ts";
import { ConfigError } from "./config.ts";
import type { MelVae } from "./model.ts";

/** Log-mel frames [1, frames, nMels] decoded from prior samples z ~ N(0, T²·I). */
export function samplePrior(
  model: MelVae,
  seconds: number,
  seed: number,
  temperature = 1,
): ag.Tensor {
  const { sampleRate, hop } = model.config.features;
  const latentSteps = Math.max(1, Math.ceil((seconds * sampleRate) / hop / model.hopFactor));
  return ag.noGrad(() => {
    const z = ag.randn([1, model.config.latentDim, latentSteps], { seed, std: temperature });
    return model.denormalize(model.decoder.forward(z)).transpose(1, 2);
  });
}

/** Log-mel frames [1, frames, nMels] of `samples` reconstructed through the model (z = μ). */
export function reconstructAudio(model: MelVae, samples: Float32Array): ag.Tensor {
  const logMel = new LogMel(model.config.features);
  try {
    return ag.noGrad(() => {
      const mel = logMel.forward(ag.tensor(samples, [1, samples.length])); // [1, nMels, F]
      const frames = model.wholeLatentFrames(mel.shape[2]);
      if (frames === 0) throw new ConfigError("the input is too short to encode");
      const x = model.normalize(mel.slice(2, 0, frames));
      return model.denormalize(model.decoder.forward(model.encoder.encode(x).mu)).transpose(1, 2);
    });
  } finally {
    logMel.dispose();
  }
}
