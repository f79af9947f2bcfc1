/**
 * The VAE's reconstruction of log-mel frames, as the vocoder's input when it is fine-tuned on
 * (or measured through) the acoustic model it will serve: frames → normalise → encoder μ
 * (z = μ) → decoder → denormalise. Frames are reflect-padded at the end up to a multiple of the
 * VAE's time downsampling and cut back after, so any length works. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import type { MelVae } from "../vae/model.ts";
import type { MelTransform } from "./trainer.ts";

/** A {@link MelTransform} through `model` (log-mel [B, nMels, T] in and out, no gradient). */
export function vaeReconstruction(model: MelVae): MelTransform {
  return (logMel) =>
    ag.noGrad(() => {
      const frames = logMel.shape[2];
      const hop = model.hopFactor;
      const extra = (hop - (frames % hop)) % hop;
      const padded = extra === 0
        ? logMel
        : logMel.pad([0, extra], extra < frames ? "reflect" : "constant");
      const x = model.normalize(padded);
      const y = model.denormalize(model.decoder.forward(model.encoder.encode(x).mu));
      return extra === 0 ? y : y.slice(2, 0, frames);
    });
}
