/**
 * The checkpoint format, without files: a model (+ optimizer and training state) to
 * `.safetensors` bytes and back. Parameters and buffers are stored as `model.*`, the optimizer's
 * moments as `optim.*.exp_avg` / `optim.*.exp_avg_sq`, and the configs, step, optimizer
 * hyperparameters, random-stream states and loss history as header metadata. Portable (bytes in,
 * bytes out; no Deno APIs): the Deno commands write these bytes atomically (vae/checkpoint.ts),
 * the browser page reads a fetched or dropped file and offers the adapted one as a download.
 * @module
 */
import type * as ag from "../engine/mod.ts";
import {
  canonicalJson,
  ConfigError,
  LEGACY_MODEL_FIELDS,
  type ModelConfig,
  type TrainConfig,
  validateModelConfig,
} from "./config.ts";
import type { MelClip } from "./data.ts";
import { MelVae } from "./model.ts";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "./safetensors.ts";
import {
  loadModuleTensors,
  type OptimizerRecord,
  optimizerTensors,
  readTensors,
  restoreOptimizer,
} from "./tensor_state.ts";

/** Identifies our checkpoints among other safetensors files. */
export const CHECKPOINT_FORMAT = "audio-gen-vae/1";

/** Training state stored beside the weights. */
export interface TrainingState {
  step: number;
  gpuRng: ag.GeneratorState;
  cropRng: number;
  /**
   * Where the shard stream of the training data is (vae/shard_sampler.ts's state beside the
   * crop RNG); absent in checkpoints of older runs, which resume from the stream's start.
   */
  loader?: { cursor: number; drawn: number; windowBytes: number };
  /** Non-finite steps skipped so far. */
  skippedSteps: number;
  /** Loss history for reports (kept as saved). */
  history: unknown;
}

/**
 * What an adapted checkpoint (`deno task listen`) records about its adaptation, so that a later
 * session continues from it only for the same base and never replaces it with less.
 */
export interface AdaptationRecord {
  /** SHA-256 (hex) of the base checkpoint file it was adapted from. */
  baseSha256: string;
  /** That file's path when last adapted (for messages). */
  base: string;
  /** Adaptation steps taken, over every session. */
  steps: number;
  /** Seconds of voiced audio heard, over every session. */
  voicedSeconds: number;
  /** Sessions that took steps. */
  sessions: number;
}

/** A decoded checkpoint, still on the CPU. */
export interface LoadedCheckpoint {
  /** Where it came from (a file path or name), for messages. */
  path: string;
  model: ModelConfig;
  train: TrainConfig | null;
  state: TrainingState | null;
  tensors: Map<string, HostTensor>;
  /**
   * Real speech the model was trained on, as log-mel clips, for adaptation to rehearse (so a
   * shipped base model carries its own replay); null when the file holds none.
   */
  replay: MelClip[] | null;
  optimizer: OptimizerRecord | null;
  /** Present in a model adapted by `listen`. */
  adaptation: AdaptationRecord | null;
  metadata: Record<string, string>;
}

/** What {@link encodeCheckpoint} stores beside the model. */
export interface CheckpointExtras {
  train?: TrainConfig;
  optimizer?: ag.Adam;
  state?: TrainingState;
  /** Replay clips (log-mel [frames, nMels] each), stored as F16 `replay.mel` + their lengths. */
  replay?: readonly MelClip[];
  /** What `listen` records in an adapted model. */
  adaptation?: AdaptationRecord;
  /** For a model exported for shipping: the training step it was taken at (metadata only). */
  exportedFrom?: { step: number | null };
}

/** Metadata key of the replay clips' names and frame counts. */
const REPLAY_KEY = "replay_clips";

/** The checkpoint bytes of a model (+ optimizer and training state when given). */
export async function encodeCheckpoint(
  model: MelVae,
  extra: CheckpointExtras = {},
): Promise<Uint8Array> {
  const named: [string, ag.Tensor][] = [...model.stateDict()].map(([n, t]) => [`model.${n}`, t]);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    model_config: JSON.stringify(model.config),
  };
  if (extra.train) metadata.train_config = JSON.stringify(extra.train);
  if (extra.optimizer) {
    const { tensors, record } = optimizerTensors(extra.optimizer, "optim");
    named.push(...tensors);
    metadata.optimizer = JSON.stringify(record);
  }
  const tensors = await readTensors(named);
  if (extra.state) metadata.training_state = JSON.stringify(extra.state);
  if (extra.exportedFrom) metadata.exported_from = JSON.stringify(extra.exportedFrom);
  if (extra.adaptation) metadata.adaptation = JSON.stringify(extra.adaptation);
  if (extra.replay?.length) {
    const nMels = model.config.features.nMels;
    const total = extra.replay.reduce((n, c) => n + c.frames, 0);
    const mel = new Float32Array(total * nMels);
    let at = 0;
    for (const c of extra.replay) {
      if (c.mel.length !== c.frames * nMels) {
        throw new Error(`replay clip ${c.name}: ${c.mel.length} values for ${c.frames} frames`);
      }
      mel.set(c.mel, at);
      at += c.mel.length;
    }
    // Half precision: log-mels span about ±25 with steps far below the model's error.
    tensors.set("replay.mel", { shape: [total, nMels], data: mel, dtype: "F16" });
    metadata[REPLAY_KEY] = JSON.stringify(extra.replay.map((c) => [c.name, c.frames]));
  }
  return encodeSafetensors({ tensors, metadata });
}

/**
 * Decodes checkpoint bytes; `path` names the source in errors, which say what is wrong (not
 * safetensors, not one of ours, no or a bad model config).
 */
export function decodeCheckpoint(bytes: Uint8Array, path: string): LoadedCheckpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new ConfigError(
      `${path}: not an audio-gen VAE checkpoint (format ${JSON.stringify(metadata.format)})`,
    );
  }
  const parse = <T>(key: string): T | null => {
    if (metadata[key] === undefined) return null;
    try {
      return JSON.parse(metadata[key]) as T;
    } catch {
      throw new ConfigError(`${path}: metadata ${key} is not valid JSON`);
    }
  };
  const saved = parse<ModelConfig>("model_config");
  if (!saved) throw new ConfigError(`${path}: checkpoint metadata has no model_config`);
  if (typeof saved !== "object" || typeof saved.features !== "object" || !saved.features) {
    throw new ConfigError(`${path}: model_config ${metadata.model_config} is not a model config`);
  }
  const model: ModelConfig = { ...LEGACY_MODEL_FIELDS, ...saved };
  validateModelConfig(model, `${path}: model_config`);
  return {
    path,
    model,
    replay: decodeReplay(path, tensors, parse<[string, number][]>(REPLAY_KEY), model),
    train: parse<TrainConfig>("train_config"),
    state: parse<TrainingState>("training_state"),
    optimizer: parse("optimizer"),
    adaptation: parse<AdaptationRecord>("adaptation"),
    tensors,
    metadata,
  };
}

/** The replay clips of a checkpoint (null without them); a mismatch names the file. */
function decodeReplay(
  path: string,
  tensors: Map<string, HostTensor>,
  clips: [string, number][] | null,
  model: ModelConfig,
): MelClip[] | null {
  const mel = tensors.get("replay.mel");
  if (!clips && !mel) return null;
  const nMels = model.features.nMels;
  const total = clips?.reduce((n, [, f]) => n + f, 0) ?? -1;
  if (
    !clips || !mel || mel.shape.length !== 2 || mel.shape[1] !== nMels || mel.shape[0] !== total
  ) {
    throw new ConfigError(
      `${path}: replay.mel [${mel?.shape ?? "missing"}] does not match its ${REPLAY_KEY} ` +
        `(${total} frames of ${nMels} bands)`,
    );
  }
  let at = 0;
  return clips.map(([name, frames]) => {
    const clip = { name, frames, mel: mel.data.slice(at * nMels, (at + frames) * nMels) };
    at += frames;
    return clip;
  });
}

/** Fails with a clear message when a checkpoint's model config differs from `expected`. */
export function checkModelConfig(ckpt: LoadedCheckpoint, expected: ModelConfig): void {
  const a = canonicalJson(ckpt.model), b = canonicalJson(expected);
  if (a !== b) {
    throw new ConfigError(
      `${ckpt.path} was saved with a different model config.\n  checkpoint: ${a}\n  requested:  ${b}\n` +
        "Use the checkpoint's config (omit --config) or start a new run in another --out folder.",
    );
  }
}

/** Copies a checkpoint's weights into `model` (shapes and names checked by loadStateDict). */
export function loadModelWeights(model: MelVae, ckpt: LoadedCheckpoint): void {
  loadModuleTensors(model, ckpt.tensors, "model", ckpt.path);
}

/** Restores the optimizer's moments and hyperparameters from a checkpoint. */
export function loadOptimizerState(optimizer: ag.Adam, ckpt: LoadedCheckpoint): void {
  if (!ckpt.optimizer) {
    throw new ConfigError(`${ckpt.path} holds no optimizer state; cannot resume exactly`);
  }
  restoreOptimizer(optimizer, ckpt.optimizer, ckpt.tensors, "optim", ckpt.path);
}

/** A model rebuilt from a decoded checkpoint's config and weights (disposed if they do not fit). */
export function modelFromCheckpoint(ckpt: LoadedCheckpoint): MelVae {
  const model = new MelVae(ckpt.model);
  try {
    loadModelWeights(model, ckpt);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
