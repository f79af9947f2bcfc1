/**
 * The VAE's configuration: one typed object for the model and one for training, with defaults,
 * a validator that refuses a bad config before any work starts, and a merge for `--config`
 * files. Both are saved with every checkpoint.
 * @module
 */
import { DEFAULT_FEATURES, type FeatureConfig, featureConfigProblem } from "../audio/features.ts";

/** The architecture (ARCHITECTURE.md defaults: 80 mels, 4× downsampling, 32-dim latent). */
export interface ModelConfig {
  features: FeatureConfig;
  /** Width of the hidden convolutions. */
  channels: number;
  /** Latent dimensions per latent step. */
  latentDim: number;
  /** Number of stride-2 stages: time is downsampled by 2^stages. */
  downsampleStages: number;
  /** Residual blocks after each conv stage of the encoder and decoder (0: the reference net). */
  residualBlocks: number;
  /** Kernel of the first encoder / last decoder convolution. */
  edgeKernel: number;
  /** Observation model of the normalised log-mel frames. */
  likelihood: "gaussian" | "laplace";
  /** Learn one global log-scale of the likelihood (σ-VAE) instead of fixing it at 1. */
  learnScale: boolean;
}

/** How to train. */
export interface TrainConfig {
  steps: number;
  batch: number;
  cropFrames: number;
  lr: number;
  /**
   * Learning rate over the run: "constant", or "cosine" — half a cosine from `lr` down to
   * lr / 10 at the last step (a finer end point for the same steps; it follows `steps`, so a
   * resume that extends `steps` bends the rest of the curve). Absent in checkpoints written
   * before it existed: constant.
   */
  lrSchedule?: "constant" | "cosine";
  weightDecay: number;
  /** KL weight rises linearly from 0 to 1 over this many steps. */
  klWarmupSteps: number;
  /** Free bits: nats per latent dimension (per latent step) not penalised. */
  freeBits: number;
  gradClip: number;
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
  /** Stop after this many non-finite steps in a row. */
  maxNonFiniteSteps: number;
}

/** Defaults of the model (TARGETS.md's reference architecture, 1.33 M parameters). */
export const DEFAULT_MODEL: Readonly<ModelConfig> = Object.freeze({
  features: DEFAULT_FEATURES,
  channels: 256,
  latentDim: 32,
  downsampleStages: 2,
  residualBlocks: 0,
  edgeKernel: 5,
  likelihood: "gaussian",
  learnScale: true,
});

/** Defaults of training: a few minutes on the bundled sample with the software driver. */
export const DEFAULT_TRAIN: Readonly<TrainConfig> = Object.freeze({
  steps: 400,
  batch: 8,
  cropFrames: 128,
  lr: 1e-3,
  lrSchedule: "constant",
  weightDecay: 0,
  klWarmupSteps: 200,
  freeBits: 0.05,
  gradClip: 5,
  seed: 1,
  evalEvery: 100,
  checkpointEvery: 100,
  maxNonFiniteSteps: 20,
});

/**
 * Values of model fields added after checkpoints were first written, as those checkpoints were
 * built (not today's defaults): a config read from an older file gets them filled in.
 */
export const LEGACY_MODEL_FIELDS: Readonly<Pick<ModelConfig, "residualBlocks">> = Object.freeze({
  residualBlocks: 0,
});

/** JSON with object keys sorted at every level: equal configs give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
        : v,
  );
}

/** A config that cannot be used; the message names the field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function positiveInt(where: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new ConfigError(`${where}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
}

function nonNegative(where: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new ConfigError(
      `${where}: ${name} must be a finite number >= 0, got ${JSON.stringify(v)}`,
    );
  }
}

/** Throws {@link ConfigError} unless `v` is a plain object (a config section). */
function requireObject(where: string, v: unknown): void {
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new ConfigError(`${where}: must be an object, got ${JSON.stringify(v) ?? "nothing"}`);
  }
}

/**
 * Throws {@link ConfigError} naming the first bad field of a model config, its features
 * included (audio/features.ts's {@link featureConfigProblem}), and any field it does not know.
 */
export function validateModelConfig(c: ModelConfig, where = "model config"): void {
  requireObject(where, c);
  for (const k of Object.keys(c)) {
    if (!(k in DEFAULT_MODEL)) throw new ConfigError(`${where}: unknown field "${k}"`);
  }
  const bad = featureConfigProblem(c.features);
  if (bad) {
    const field = bad.field === null ? "features" : `features.${bad.field}`;
    throw new ConfigError(`${where}: ${field}: ${bad.problem}`);
  }
  for (const k of Object.keys(c.features)) {
    if (!(k in DEFAULT_FEATURES)) {
      throw new ConfigError(`${where}: features: unknown field "${k}"`);
    }
  }
  for (const k of ["channels", "latentDim", "edgeKernel"] as const) positiveInt(where, k, c[k]);
  if (!Number.isInteger(c.residualBlocks) || c.residualBlocks < 0) {
    throw new ConfigError(
      `${where}: residualBlocks must be an integer >= 0, got ${JSON.stringify(c.residualBlocks)}`,
    );
  }
  if (
    typeof c.downsampleStages !== "number" || !Number.isInteger(c.downsampleStages) ||
    c.downsampleStages < 0
  ) {
    throw new ConfigError(
      `${where}: downsampleStages must be an integer >= 0, got ${
        JSON.stringify(c.downsampleStages)
      }`,
    );
  }
  if (typeof c.learnScale !== "boolean") {
    throw new ConfigError(
      `${where}: learnScale must be true or false, got ${JSON.stringify(c.learnScale)}`,
    );
  }
  if (!["gaussian", "laplace"].includes(c.likelihood)) {
    throw new ConfigError(
      `${where}: likelihood must be "gaussian" or "laplace", got ${JSON.stringify(c.likelihood)}`,
    );
  }
  if (c.edgeKernel % 2 !== 1) {
    throw new ConfigError(`${where}: edgeKernel must be odd, got ${c.edgeKernel}`);
  }
}

/** Throws {@link ConfigError} naming the first bad field of a training config. */
export function validateTrainConfig(
  c: TrainConfig,
  model: ModelConfig,
  where = "train config",
): void {
  requireObject(where, c);
  for (const k of Object.keys(c)) {
    if (!(k in DEFAULT_TRAIN)) throw new ConfigError(`${where}: unknown field "${k}"`);
  }
  for (
    const k of [
      "steps",
      "batch",
      "cropFrames",
      "evalEvery",
      "checkpointEvery",
      "maxNonFiniteSteps",
    ] as const
  ) {
    positiveInt(where, k, c[k]);
  }
  for (const k of ["lr", "weightDecay", "klWarmupSteps", "freeBits", "gradClip", "seed"] as const) {
    nonNegative(where, k, c[k]);
  }
  if (c.lr === 0) throw new ConfigError(`${where}: lr must be > 0`);
  if (c.lrSchedule !== undefined && !["constant", "cosine"].includes(c.lrSchedule)) {
    throw new ConfigError(
      `${where}: lrSchedule must be "constant" or "cosine", got ${JSON.stringify(c.lrSchedule)}`,
    );
  }
  const factor = 2 ** model.downsampleStages;
  if (c.cropFrames % factor !== 0) {
    throw new ConfigError(
      `${where}: cropFrames ${c.cropFrames} must be a multiple of ${factor} (the time downsampling)`,
    );
  }
}

/**
 * Overlays a partial config (e.g. from a `--config` JSON file) on a base, refusing unknown keys
 * so that a typo is an error rather than silently ignored.
 */
export function mergeConfig<T extends object>(
  base: T,
  partial: Record<string, unknown>,
  where: string,
): T {
  requireObject(where, partial);
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(partial)) {
    if (!(k in base)) {
      throw new ConfigError(
        `${where}: unknown key "${k}" (known: ${Object.keys(base).join(", ")})`,
      );
    }
    const current = out[k];
    if (current && typeof current === "object" && v && typeof v === "object") {
      out[k] = mergeConfig(current as object, v as Record<string, unknown>, `${where}.${k}`);
    } else out[k] = v;
  }
  return out as T;
}
