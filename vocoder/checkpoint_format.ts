/**
 * The vocoder's checkpoint format, without files: `.safetensors` bytes holding the generator's
 * weights (`generator.*`) and, for a training checkpoint, the discriminators' (`discriminator.*`)
 * and both optimizers' moments (`optim_g.*`, `optim_d.*`); the header metadata holds the configs
 * (the generator's includes the features it maps, so a mismatch can be refused by field), the
 * optimizers' hyperparameters and the training state (step, random streams, data position,
 * history). A shipped vocoder is the same format with the generator alone. Portable.
 * @module
 */
import type * as ag from "../engine/mod.ts";
import { ConfigError } from "../vae/config.ts";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "../vae/safetensors.ts";
import {
  loadModuleTensors,
  type OptimizerRecord,
  optimizerTensors,
  readTensors,
  restoreOptimizer,
} from "../vae/tensor_state.ts";
import {
  type DiscriminatorConfig,
  validateDiscriminatorConfig,
  validateVocoderConfig,
  validateVocoderTrainConfig,
  type VocoderConfig,
  type VocoderTrainConfig,
} from "./config.ts";
import type { Discriminators } from "./discriminators.ts";
import { Vocoder } from "./model.ts";

/** Identifies vocoder checkpoints among other safetensors files. */
export const VOCODER_FORMAT = "audio-gen-vocoder/1";

/** What a training run saves beside the weights to resume exactly. */
export interface VocoderTrainingState {
  step: number;
  /** The segment sampler's state (the data position). */
  sampler: number;
  gpuRng: ag.GeneratorState;
  skippedSteps: number;
  /** Seconds of training audio the sampler drew from (a change is noted on resume). */
  corpusSeconds?: number;
  /** Loss history and evaluations, for the report (kept as saved). */
  history: unknown;
}

/** Training extras of a checkpoint. */
export interface VocoderTrainingParts {
  discriminators: Discriminators;
  discriminatorConfig: DiscriminatorConfig;
  train: VocoderTrainConfig;
  generatorOptimizer: ag.Adam;
  discriminatorOptimizer: ag.Adam;
  state: VocoderTrainingState;
}

/** A decoded vocoder checkpoint, on the CPU. */
export interface LoadedVocoderCheckpoint {
  source: string;
  config: VocoderConfig;
  discriminatorConfig: DiscriminatorConfig | null;
  train: VocoderTrainConfig | null;
  state: VocoderTrainingState | null;
  optimizers: { generator: OptimizerRecord; discriminator: OptimizerRecord } | null;
  tensors: Map<string, HostTensor>;
}

/**
 * The bytes of a vocoder checkpoint: the weights alone (parameters as F16, what is shipped), or
 * with everything training needs (all F32, to resume exactly).
 */
export async function encodeVocoderCheckpoint(
  vocoder: Vocoder,
  training?: VocoderTrainingParts,
): Promise<Uint8Array> {
  const named: [string, ag.Tensor][] = [...vocoder.stateDict()].map((
    [n, t],
  ) => [`generator.${n}`, t]);
  const metadata: Record<string, string> = {
    format: VOCODER_FORMAT,
    vocoder_config: JSON.stringify(vocoder.config),
  };
  if (training) {
    named.push(
      ...[...training.discriminators.stateDict()].map((
        [n, t],
      ): [string, ag.Tensor] => [`discriminator.${n}`, t]),
    );
    const g = optimizerTensors(training.generatorOptimizer, "optim_g");
    const d = optimizerTensors(training.discriminatorOptimizer, "optim_d");
    named.push(...g.tensors, ...d.tensors);
    metadata.discriminator_config = JSON.stringify(training.discriminatorConfig);
    metadata.train_config = JSON.stringify(training.train);
    metadata.optimizers = JSON.stringify({ generator: g.record, discriminator: d.record });
    metadata.training_state = JSON.stringify(training.state);
  }
  const tensors = await readTensors(named);
  if (!training) {
    // A shipped vocoder: its trained weights in half precision (half the bytes; the change in
    // the audio is far below the model's own error, tests/vocoder/checkpoint_test.ts), the input
    // statistics exact.
    const params = new Set(vocoder.namedParameters().keys());
    for (const [name, t] of tensors) {
      if (params.has(name.slice("generator.".length))) t.dtype = "F16";
    }
  }
  return encodeSafetensors({ tensors, metadata });
}

/**
 * Decodes vocoder checkpoint bytes; `source` names the file in errors, which say what is wrong
 * (not safetensors, not a vocoder, a bad config field).
 */
export function decodeVocoderCheckpoint(
  bytes: Uint8Array,
  source: string,
): LoadedVocoderCheckpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== VOCODER_FORMAT) {
    throw new ConfigError(
      `${source}: not an audio-gen vocoder (format ${JSON.stringify(metadata.format)}, ` +
        `expected "${VOCODER_FORMAT}")`,
    );
  }
  const parse = <T>(key: string): T | null => {
    if (metadata[key] === undefined) return null;
    try {
      return JSON.parse(metadata[key]) as T;
    } catch {
      throw new ConfigError(`${source}: metadata ${key} is not valid JSON`);
    }
  };
  const config = parse<VocoderConfig>("vocoder_config");
  if (!config) throw new ConfigError(`${source}: no vocoder_config in its metadata`);
  validateVocoderConfig(config, `${source}: vocoder_config`);
  const discriminatorConfig = parse<DiscriminatorConfig>("discriminator_config");
  if (discriminatorConfig) {
    validateDiscriminatorConfig(discriminatorConfig, `${source}: discriminator_config`);
  }
  const train = parse<VocoderTrainConfig>("train_config");
  if (train) validateVocoderTrainConfig(train, `${source}: train_config`);
  return {
    source,
    config,
    discriminatorConfig,
    train,
    state: parse<VocoderTrainingState>("training_state"),
    optimizers: parse("optimizers"),
    tensors,
  };
}

/** A vocoder rebuilt from a decoded checkpoint (disposed again if the weights do not fit). */
export function vocoderFromCheckpoint(ckpt: LoadedVocoderCheckpoint): Vocoder {
  const vocoder = new Vocoder(ckpt.config);
  try {
    loadModuleTensors(vocoder, ckpt.tensors, "generator", ckpt.source);
  } catch (e) {
    vocoder.dispose();
    throw e;
  }
  return vocoder;
}

/** Restores the discriminators and both optimizers of a training checkpoint. */
export function restoreTraining(
  ckpt: LoadedVocoderCheckpoint,
  parts: Pick<
    VocoderTrainingParts,
    "discriminators" | "generatorOptimizer" | "discriminatorOptimizer"
  >,
): void {
  if (!ckpt.optimizers || !ckpt.state) {
    throw new ConfigError(
      `${ckpt.source} holds no training state (weights only); cannot resume from it`,
    );
  }
  loadModuleTensors(parts.discriminators, ckpt.tensors, "discriminator", ckpt.source);
  restoreOptimizer(
    parts.generatorOptimizer,
    ckpt.optimizers.generator,
    ckpt.tensors,
    "optim_g",
    ckpt.source,
  );
  restoreOptimizer(
    parts.discriminatorOptimizer,
    ckpt.optimizers.discriminator,
    ckpt.tensors,
    "optim_d",
    ckpt.source,
  );
}
