/**
 * What a listener hears from a VAE: a clip's audio → log-mel → encoder (z = μ) → decoder → a
 * vocoder → audio, scored against the input by {@link waveformDistance} (float64 re-analysis,
 * relative −80 dB floor, lag alignment; design/TARGETS.md "through the waveform"), beside the
 * same reconstruction's mel-LSD in the feature domain (TARGETS.md's definition, P = mel power +
 * 1e-5). With no model, the vocoder alone on the true features: the ceiling any model sees.
 * Shared by `eval`, the training report and `eval:adapt`. Portable: engine and typed arrays.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { LogMel } from "../audio/features.ts";
import { melLsd } from "../audio/metrics.ts";
import type { MelVocoder } from "../audio/vocoder.ts";
import { ReferenceAnalyser, waveformDistance } from "../audio/waveform_distance.ts";
import type { MelVae } from "./model.ts";
import type { FeatureConfig } from "../audio/features.ts";

/**
 * `length` samples of `vocoder`'s audio for log-mel frames [1, frames, nMels] (it gives
 * (frames − 1)·hop; the last part-hop is silence, as a centred STFT's last frame covers it).
 */
export async function vocode(
  vocoder: MelVocoder,
  logMelFrames: ag.Tensor,
  length: number,
): Promise<Float32Array> {
  const audio = await ag.tidy(() => vocoder.synthesize(logMelFrames).toArray());
  if (audio.length === length) return audio;
  const out = new Float32Array(length);
  out.set(audio.subarray(0, length));
  return out;
}

/** What each waveform score means, in words (the training report lists them). */
export const WAVEFORM_METRIC_DEFINITIONS = {
  melLsdFeatures: "melLsdFeatures: mel-LSD of the reconstructed features against the input's " +
    "(as melLsd above, on every frame of the clip).",
  melLsdWaveform: "melLsdWaveform: what a listener hears — the reconstruction made audio by the " +
    "vocoder, re-analysed (16 kHz, n_fft 1024, hop 256, 80 unit-peak HTK mel bands) and " +
    "compared with the input audio by the same per-frame RMS of dB differences, aligned by the " +
    "lag within ±2048 samples that minimises it, with P = max(power, 1e-8 × the clip's peak " +
    "power) so filled-in pauses and quiet bands count; dB, the mean over clips.",
  lsdWaveform: "lsdWaveform: the same over the 513 linear-frequency bins of the power spectrum.",
} as const;

/** One clip's scores, in dB. */
export interface WaveformScore {
  name: string;
  seconds: number;
  /** mel-LSD of the reconstructed features against the input's (TARGETS.md, +1e-5 floor). */
  featureMelLsd: number;
  /** mel-LSD through the waveform (relative floor). */
  melLsd: number;
  /** LSD over linear bins through the waveform (relative floor). */
  lsd: number;
  /** Samples the output was shifted by to align it. */
  lag: number;
}

/** Means of the per-clip scores (each clip weighs the same, as TARGETS.md averages clips). */
export interface WaveformSummary {
  clips: number;
  featureMelLsd: number;
  melLsd: number;
  lsd: number;
}

/**
 * The z = μ reconstruction of log-mel frames [1, frames, nMels] (time-major, as
 * {@link LogMel.logMelFrames} gives), same shape. The frames are padded to whole latent steps
 * with the clip's quietest value (as training crops are) and the padding cut off again, so
 * every input frame has an output frame and the audio keeps its length.
 */
export function reconstructFrames(model: MelVae, logMelFrames: ag.Tensor): ag.Tensor {
  return ag.noGrad(() => {
    const frames = logMelFrames.shape[1];
    const whole = Math.ceil(frames / model.hopFactor) * model.hopFactor;
    let x = logMelFrames.transpose(1, 2); // [1, nMels, frames]
    if (whole > frames) {
      const quietest = x.min(undefined, false).reshape([1, 1, 1]);
      x = ag.concat([x, quietest.expand([1, x.shape[1], whole - frames])], 2);
    }
    const mu = model.encoder.encode(model.normalize(x)).mu;
    const out = model.denormalize(model.decoder.forward(mu));
    return out.slice(2, 0, frames).transpose(1, 2);
  });
}

/**
 * Scores one clip (mono samples at the model's rate): the model's reconstruction (or, with
 * `model` null, the true features) through `vocoder`, against the input.
 */
export async function scoreClip(
  model: MelVae | null,
  name: string,
  samples: Float32Array,
  features: FeatureConfig,
  vocoder: MelVocoder | null,
  tools: { logMel: LogMel; analyser: ReferenceAnalyser },
): Promise<WaveformScore> {
  const { input, output, mel } = await ag.tidy(async () => {
    const x = tools.logMel.logMelFrames(ag.tensor(samples, [1, samples.length]));
    const y = model ? reconstructFrames(model, x) : x;
    const [input, output] = await Promise.all([x.toArray(), y.toArray()]);
    return { input, output, mel: y.keep() };
  });
  let audio: Float32Array | null = null;
  try {
    if (vocoder) audio = await vocode(vocoder, mel, samples.length);
  } finally {
    mel.dispose();
  }
  const power = (logMel: Float32Array) =>
    logMel.map((v) => Math.max(Math.exp(v) - features.logFloor, 0));
  const d = audio
    ? waveformDistance(samples, audio, { analyser: tools.analyser })
    : { melLsd: NaN, lsd: NaN, lag: NaN };
  return {
    name,
    seconds: samples.length / features.sampleRate,
    featureMelLsd: melLsd(power(input), power(output), features.nMels),
    melLsd: d.melLsd,
    lsd: d.lsd,
    lag: d.lag,
  };
}

/** Scores several clips with one feature extractor and analyser; see {@link scoreClip}. */
export async function scoreClips(
  model: MelVae | null,
  clips: readonly { name: string; samples: Float32Array }[],
  features: FeatureConfig,
  vocoder: MelVocoder | null,
  onClip?: (score: WaveformScore, index: number) => void,
): Promise<WaveformScore[]> {
  const tools = { logMel: new LogMel(features), analyser: new ReferenceAnalyser() };
  try {
    const scores: WaveformScore[] = [];
    for (const clip of clips) {
      const s = await scoreClip(model, clip.name, clip.samples, features, vocoder, tools);
      scores.push(s);
      onClip?.(s, scores.length - 1);
    }
    return scores;
  } finally {
    tools.logMel.dispose();
  }
}

/** The mean of each score over clips. */
export function summarize(scores: readonly WaveformScore[]): WaveformSummary {
  const mean = (k: "featureMelLsd" | "melLsd" | "lsd") =>
    scores.reduce((s, c) => s + c[k], 0) / scores.length;
  if (scores.length === 0) throw new Error("summarize: no clips were scored");
  return {
    clips: scores.length,
    featureMelLsd: mean("featureMelLsd"),
    melLsd: mean("melLsd"),
    lsd: mean("lsd"),
  };
}
