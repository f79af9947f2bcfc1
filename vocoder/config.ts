/**
 * The neural vocoder's configuration: the generator's architecture (with the features it maps,
 * so that a vocoder is never fed frames of another analysis), the discriminators', and how to
 * train. Defaults, a validator that names the first bad field before any work starts, and the
 * feature check that refuses a vocoder made for other features. All saved with checkpoints.
 * Portable: no Deno APIs.
 * @module
 */
import { DEFAULT_FEATURES, type FeatureConfig } from "../audio/features.ts";
import { ConfigError, nonNegative, positiveInt } from "../vae/config.ts";

/** The generator: log-mel frames [B, nMels, T] → 16 kHz samples [B, (T − 1)·hop]. */
export interface VocoderConfig {
  /** The analysis of the input frames; the head's STFT uses its nFft and hop. */
  features: FeatureConfig;
  /** Width of the ConvNeXt backbone. */
  channels: number;
  /** Hidden width of each block's pointwise MLP (~3 × channels). */
  intermediate: number;
  /** Number of ConvNeXt blocks. */
  layers: number;
  /** Kernel of the input convolution and of each block's depthwise convolution (odd). */
  kernelSize: number;
  /** Predicted log-magnitudes are capped here before exp (Vocos clips the magnitude at 1e2). */
  maxLogMagnitude: number;
  /**
   * Add the pseudo-inverse of the mel filterbank's magnitude to the head's log-magnitude, so the
   * head learns a correction of Griffin-Lim's magnitude (FreeV). Absent in early checkpoints:
   * false.
   */
  magnitudePrior?: boolean;
}

/** The discriminators: multi-period (HiFi-GAN) and multi-resolution spectrogram (UnivNet/Vocos). */
export interface DiscriminatorConfig {
  /** Periods of the multi-period discriminator's sub-discriminators. */
  periods: number[];
  /** Channel widths of each period sub-discriminator's strided (k5, s3) layers. */
  periodChannels: number[];
  /** [nFft, hop] of each multi-resolution sub-discriminator's magnitude spectrogram. */
  resolutions: [number, number][];
  /** Channels of each resolution sub-discriminator's 2-D convolutions. */
  resolutionChannels: number;
}

/** How to train. */
export interface VocoderTrainConfig {
  steps: number;
  batch: number;
  /** Frames per training segment (the waveform is segmentFrames · hop samples). */
  segmentFrames: number;
  lr: number;
  /** Learning rate of the discriminators. */
  discriminatorLr: number;
  betas: [number, number];
  weightDecay: number;
  gradClip: number;
  /** Adversarial training (discriminators, feature matching) starts at this step; 0 = never. */
  adversarialFrom: number;
  /** Weight of the mel L1 (natural-log mel power). */
  melWeight: number;
  /** Weight of the multi-resolution STFT loss (spectral convergence + log-magnitude L1). */
  stftWeight: number;
  /** Weight of the generator's adversarial loss (least squares). */
  adversarialWeight: number;
  /** Weight of the feature-matching L1. */
  featureMatchingWeight: number;
  /** [nFft, hop] of each resolution of the multi-resolution STFT loss. */
  stftResolutions: [number, number][];
  /**
   * The norm of the STFT loss's log-power difference: "l1" (Parallel WaveGAN) or "l2" (the
   * square, whose optimum is the log-spectral distance's). Absent in early runs: "l1".
   */
  logMagnitudeNorm?: "l1" | "l2";
  /** Each training segment's gain is drawn uniformly in this range (dB), after peak normalisation. */
  gainDb: [number, number];
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
  maxNonFiniteSteps: number;
}

/** Default generator: C = 128, 8 blocks (≈ 1.07 M parameters). */
export const DEFAULT_VOCODER: Readonly<VocoderConfig> = Object.freeze({
  features: DEFAULT_FEATURES,
  channels: 128,
  intermediate: 384,
  layers: 8,
  kernelSize: 7,
  maxLogMagnitude: Math.log(100),
  magnitudePrior: true,
});

/** Default discriminators: small widths so that an adversarial step stays affordable on a CPU. */
export const DEFAULT_DISCRIMINATOR: Readonly<DiscriminatorConfig> = Object.freeze({
  periods: [2, 3, 5, 7, 11],
  periodChannels: [8, 16, 32, 32],
  resolutions: [[512, 128], [1024, 256], [2048, 512]] as [number, number][],
  resolutionChannels: 8,
});

/** Default training. */
export const DEFAULT_VOCODER_TRAIN: Readonly<VocoderTrainConfig> = Object.freeze({
  steps: 2000,
  batch: 8,
  segmentFrames: 32,
  lr: 5e-4,
  discriminatorLr: 2e-4,
  betas: [0.8, 0.99] as [number, number],
  weightDecay: 0,
  gradClip: 10,
  adversarialFrom: 0,
  melWeight: 1,
  stftWeight: 1,
  adversarialWeight: 0.05,
  featureMatchingWeight: 0.1,
  stftResolutions: [[512, 128], [1024, 256], [2048, 512]] as [number, number][],
  gainDb: [-20, 0] as [number, number],
  seed: 1,
  evalEvery: 500,
  checkpointEvery: 200,
  maxNonFiniteSteps: 20,
});

function powerOfTwo(where: string, name: string, v: unknown): void {
  positiveInt(where, name, v);
  if (!Number.isInteger(Math.log2(v as number))) {
    throw new ConfigError(`${where}: ${name} must be a power of two, got ${v}`);
  }
}

function resolutionList(where: string, name: string, v: unknown): void {
  if (!Array.isArray(v) || v.length === 0) {
    throw new ConfigError(`${where}: ${name} must be a non-empty list of [nFft, hop]`);
  }
  v.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== 2) {
      throw new ConfigError(
        `${where}: ${name}[${i}] must be [nFft, hop], got ${JSON.stringify(r)}`,
      );
    }
    powerOfTwo(where, `${name}[${i}] nFft`, r[0]);
    positiveInt(where, `${name}[${i}] hop`, r[1]);
  });
}

/** Throws {@link ConfigError} naming the first bad field of a generator config. */
export function validateVocoderConfig(c: VocoderConfig, where = "vocoder config"): void {
  if (!c || typeof c !== "object" || !c.features || typeof c.features !== "object") {
    throw new ConfigError(`${where}: not a vocoder config (no features)`);
  }
  for (const k of ["channels", "intermediate", "layers", "kernelSize"] as const) {
    positiveInt(where, k, c[k]);
  }
  if (c.kernelSize % 2 !== 1) {
    throw new ConfigError(`${where}: kernelSize must be odd, got ${c.kernelSize}`);
  }
  nonNegative(where, "maxLogMagnitude", c.maxLogMagnitude);
  if (c.magnitudePrior !== undefined && typeof c.magnitudePrior !== "boolean") {
    throw new ConfigError(
      `${where}: magnitudePrior must be true or false, got ${JSON.stringify(c.magnitudePrior)}`,
    );
  }
  positiveInt(where, "features.nMels", c.features.nMels);
  powerOfTwo(where, "features.nFft", c.features.nFft);
  positiveInt(where, "features.hop", c.features.hop);
}

/** Throws {@link ConfigError} naming the first bad field of a discriminator config. */
export function validateDiscriminatorConfig(
  c: DiscriminatorConfig,
  where = "discriminator config",
): void {
  if (!Array.isArray(c.periods) || c.periods.length === 0) {
    throw new ConfigError(`${where}: periods must be a non-empty list`);
  }
  c.periods.forEach((p, i) => positiveInt(where, `periods[${i}]`, p));
  if (!Array.isArray(c.periodChannels) || c.periodChannels.length === 0) {
    throw new ConfigError(`${where}: periodChannels must be a non-empty list`);
  }
  c.periodChannels.forEach((p, i) => positiveInt(where, `periodChannels[${i}]`, p));
  resolutionList(where, "resolutions", c.resolutions);
  positiveInt(where, "resolutionChannels", c.resolutionChannels);
}

/** Throws {@link ConfigError} naming the first bad field of a training config. */
export function validateVocoderTrainConfig(
  c: VocoderTrainConfig,
  where = "vocoder train config",
): void {
  for (
    const k of [
      "steps",
      "batch",
      "segmentFrames",
      "evalEvery",
      "checkpointEvery",
      "maxNonFiniteSteps",
    ] as const
  ) positiveInt(where, k, c[k]);
  for (
    const k of [
      "lr",
      "discriminatorLr",
      "weightDecay",
      "gradClip",
      "adversarialFrom",
      "melWeight",
      "stftWeight",
      "adversarialWeight",
      "featureMatchingWeight",
      "seed",
    ] as const
  ) nonNegative(where, k, c[k]);
  if (c.lr === 0) throw new ConfigError(`${where}: lr must be > 0`);
  if (c.gradClip === 0) throw new ConfigError(`${where}: gradClip must be > 0`);
  if (
    !Array.isArray(c.betas) || c.betas.length !== 2 ||
    !c.betas.every((b) => typeof b === "number" && b >= 0 && b < 1)
  ) {
    throw new ConfigError(`${where}: betas must be two numbers in [0, 1), got ${c.betas}`);
  }
  if (
    !Array.isArray(c.gainDb) || c.gainDb.length !== 2 || !c.gainDb.every(Number.isFinite) ||
    c.gainDb[0] > c.gainDb[1]
  ) {
    throw new ConfigError(`${where}: gainDb must be [low, high] with low <= high (dB)`);
  }
  resolutionList(where, "stftResolutions", c.stftResolutions);
  if (c.logMagnitudeNorm !== undefined && !["l1", "l2"].includes(c.logMagnitudeNorm)) {
    throw new ConfigError(
      `${where}: logMagnitudeNorm must be "l1" or "l2", got ${JSON.stringify(c.logMagnitudeNorm)}`,
    );
  }
}

/**
 * Refuses a vocoder made for other features than the frames it would be fed, naming each field
 * that differs (e.g. `features.htk: vocoder true, VAE false`).
 */
export function checkSameFeatures(
  vocoder: FeatureConfig,
  other: FeatureConfig,
  vocoderName: string,
  otherName: string,
): void {
  const keys = new Set([...Object.keys(vocoder), ...Object.keys(other)]);
  const diffs: string[] = [];
  for (const k of keys) {
    const a = (vocoder as unknown as Record<string, unknown>)[k];
    const b = (other as unknown as Record<string, unknown>)[k];
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      diffs.push(`features.${k}: vocoder ${JSON.stringify(a)}, ${otherName} ${JSON.stringify(b)}`);
    }
  }
  if (diffs.length) {
    throw new ConfigError(
      `${vocoderName} was trained on other features than ${otherName}'s: ${diffs.join("; ")}`,
    );
  }
}
