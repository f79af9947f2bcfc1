/**
 * Log-mel frames to audio, whichever way: the neural vocoder, or Griffin-Lim (the fallback, and
 * what a run uses when no vocoder fits its features). Everything that outputs audio (generate,
 * the training report, the browser page) goes through {@link logMelToAudio}. Portable.
 * @module
 */
import * as ag from "../engine/mod.ts";
import type { FeatureConfig } from "../audio/features.ts";
import { GriffinLimVocoder, melToAudio, type MelVocoder } from "../audio/vocoder.ts";
import { checkSameFeatures } from "./config.ts";
import type { Vocoder } from "./model.ts";

/** How log-mel frames become audio. */
export type AudioOut =
  | { kind: "vocoder"; vocoder: Vocoder; name: string }
  | { kind: "griffin-lim"; iterations: number };

/** A label for messages and reports, e.g. `vocoder models/vocoder.safetensors`. */
export function describeAudioOut(out: AudioOut): string {
  return out.kind === "vocoder"
    ? `vocoder ${out.name}`
    : `Griffin-Lim (${out.iterations} iterations)`;
}

/**
 * Audio [B, length] from log-mel frames [B, frames, nMels] (time-major, as the VAE's outputs and
 * `LogMel.logMelFrames` give) made with `features`; `length` defaults to (frames − 1)·hop. A
 * vocoder made for other features is refused, naming the fields that differ.
 */
export function logMelToAudio(
  logMelFrames: ag.Tensor,
  features: FeatureConfig,
  out: AudioOut,
  opts: { length?: number; seed?: number } = {},
): ag.Tensor {
  if (out.kind === "griffin-lim") {
    return melToAudio(logMelFrames, features, {
      iterations: out.iterations,
      seed: opts.seed ?? 0,
      length: opts.length,
    });
  }
  checkSameFeatures(out.vocoder.config.features, features, out.name, "these log-mel frames");
  return ag.tidy(() =>
    ag.noGrad(() => out.vocoder.synthesize(logMelFrames.transpose(1, 2), opts.length))
  );
}

/**
 * The neural vocoder as a {@link MelVocoder}, the interface streams (audio/vocoder_stream.ts)
 * and the waveform measure (vae/waveform_eval.ts) speak through. It ignores the previous chunk's
 * audio: its output depends on the frames alone (±29 frames of them: generate streams it with
 * 64 frames of overlap).
 */
export class NeuralMelVocoder implements MelVocoder {
  readonly features: FeatureConfig;
  constructor(readonly vocoder: Vocoder) {
    this.features = vocoder.config.features;
  }

  synthesize(logMelFrames: ag.Tensor): ag.Tensor {
    return ag.tidy(() => ag.noGrad(() => this.vocoder.synthesize(logMelFrames.transpose(1, 2))));
  }
}

/**
 * The {@link MelVocoder} an {@link AudioOut} speaks through for frames of `features`
 * (Griffin-Lim seeded with `seed`); a vocoder made for other features is refused.
 */
export function melVocoderOf(out: AudioOut, features: FeatureConfig, seed = 0): MelVocoder {
  if (out.kind === "griffin-lim") {
    return new GriffinLimVocoder(features, { iterations: out.iterations, seed });
  }
  checkSameFeatures(out.vocoder.config.features, features, out.name, "these log-mel frames");
  return new NeuralMelVocoder(out.vocoder);
}
