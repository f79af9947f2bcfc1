/**
 * Checkpoints: `.safetensors` files holding the model's parameters and buffers (`model.*`), the
 * optimizer's moments (`optim.*.exp_avg`, `optim.*.exp_avg_sq`), and in the header metadata the
 * configs, step, optimizer hyperparameters, random-stream states and the loss history — all that
 * `--resume` needs to continue exactly. Written to a temp file and renamed, so a kill at any
 * moment leaves the previous checkpoint readable. Deno-only (files).
 * @module
 */
import * as ag from "../engine/mod.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { ConfigError, type ModelConfig, type TrainConfig, validateModelConfig } from "./config.ts";
import { MelVae } from "./model.ts";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "./safetensors.ts";

/** Identifies our checkpoints among other safetensors files. */
export const CHECKPOINT_FORMAT = "audio-gen-vae/1";

/** Training state stored beside the weights. */
export interface TrainingState {
  step: number;
  gpuRng: ag.GeneratorState;
  cropRng: number;
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

/** A loaded checkpoint, still on the CPU. */
export interface LoadedCheckpoint {
  path: string;
  model: ModelConfig;
  train: TrainConfig | null;
  state: TrainingState | null;
  tensors: Map<string, HostTensor>;
  optimizer: {
    lr: number;
    betas: [number, number];
    eps: number;
    weightDecay: number;
    steps: Record<string, number>;
  } | null;
  /** Present in a model adapted by `listen`. */
  adaptation: AdaptationRecord | null;
  metadata: Record<string, string>;
}

/** Reads many tensors back with one GPU→CPU copy (a checkpoint holds dozens of them). */
async function readAll(named: [string, ag.Tensor][]): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  const live = named.filter(([, t]) => t.size > 0);
  for (const [name, t] of named) {
    if (t.size === 0) out.set(name, { shape: [...t.shape], data: new Float32Array(0) });
  }
  if (live.length === 0) return out;
  const flat = await ag.tidy(() =>
    ag.noGrad(() => ag.concat(live.map(([, t]) => t.reshape([t.size])))).toArray()
  );
  let at = 0;
  for (const [name, t] of live) {
    out.set(name, { shape: [...t.shape], data: flat.slice(at, at + t.size) });
    at += t.size;
  }
  return out;
}

/** Saves model (+ optimizer and training state when given) to `path` atomically. */
export async function saveCheckpoint(
  path: string,
  model: MelVae,
  extra: {
    train?: TrainConfig;
    optimizer?: ag.Adam;
    state?: TrainingState;
    adaptation?: AdaptationRecord;
  } = {},
): Promise<void> {
  const named: [string, ag.Tensor][] = [...model.stateDict()].map(([n, t]) => [`model.${n}`, t]);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    model_config: JSON.stringify(model.config),
  };
  if (extra.train) metadata.train_config = JSON.stringify(extra.train);
  if (extra.optimizer) {
    const s = extra.optimizer.state();
    const steps: Record<string, number> = {};
    for (const [name, p] of s.params) {
      steps[name] = p.step;
      named.push([`optim.${name}.exp_avg`, p.expAvg], [`optim.${name}.exp_avg_sq`, p.expAvgSq]);
    }
    metadata.optimizer = JSON.stringify({
      lr: s.lr,
      betas: s.betas,
      eps: s.eps,
      weightDecay: s.weightDecay,
      steps,
    });
  }
  const tensors = await readAll(named);
  if (extra.state) metadata.training_state = JSON.stringify(extra.state);
  if (extra.adaptation) metadata.adaptation = JSON.stringify(extra.adaptation);
  await writeFileAtomic(path, encodeSafetensors({ tensors, metadata }));
}

/** Reads a checkpoint; errors name the file and what is wrong. */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const bytes = await Deno.readFile(path);
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
  const model = parse<ModelConfig>("model_config");
  if (!model) throw new ConfigError(`${path}: checkpoint metadata has no model_config`);
  validateModelConfig(model, `${path}: model config`); // before any model is built from it
  return {
    path,
    model,
    train: parse<TrainConfig>("train_config"),
    state: parse<TrainingState>("training_state"),
    optimizer: parse("optimizer"),
    adaptation: parse<AdaptationRecord>("adaptation"),
    tensors,
    metadata,
  };
}

/** Fails with a clear message when a checkpoint's model config differs from `expected`. */
export function checkModelConfig(ckpt: LoadedCheckpoint, expected: ModelConfig): void {
  const a = JSON.stringify(ckpt.model), b = JSON.stringify(expected);
  if (a !== b) {
    throw new ConfigError(
      `${ckpt.path} was saved with a different model config.\n  checkpoint: ${a}\n  requested:  ${b}\n` +
        "Use the checkpoint's config (omit --config) or start a new run in another --out folder.",
    );
  }
}

/** Copies a checkpoint's weights into `model` (shapes and names checked by loadStateDict). */
export function loadModelWeights(model: MelVae, ckpt: LoadedCheckpoint): void {
  ag.tidy(() => {
    const state = new Map<string, ag.Tensor>();
    for (const [name, t] of ckpt.tensors) {
      if (name.startsWith("model.")) state.set(name.slice(6), ag.tensor(t.data, t.shape));
    }
    try {
      model.loadStateDict(state);
    } catch (e) {
      throw new ConfigError(`${ckpt.path}: ${(e as Error).message}`);
    }
  });
}

/** Restores the optimizer's moments and hyperparameters from a checkpoint. */
export function loadOptimizerState(optimizer: ag.Adam, ckpt: LoadedCheckpoint): void {
  if (!ckpt.optimizer) {
    throw new ConfigError(`${ckpt.path} holds no optimizer state; cannot resume exactly`);
  }
  ag.tidy(() => {
    const params = new Map<string, ag.AdamParamState>();
    for (const [name, step] of Object.entries(ckpt.optimizer!.steps)) {
      const m = ckpt.tensors.get(`optim.${name}.exp_avg`);
      const v = ckpt.tensors.get(`optim.${name}.exp_avg_sq`);
      if (!m || !v) throw new ConfigError(`${ckpt.path}: optimizer moments of ${name} are missing`);
      params.set(name, {
        step,
        expAvg: ag.tensor(m.data, m.shape),
        expAvgSq: ag.tensor(v.data, v.shape),
      });
    }
    const { lr, betas, eps, weightDecay } = ckpt.optimizer!;
    optimizer.loadState({ lr, betas, eps, weightDecay, params });
  });
}

/** A model rebuilt from a checkpoint's config and weights (for generate, eval, listen). */
export async function loadModel(
  path: string,
): Promise<{ model: MelVae; checkpoint: LoadedCheckpoint }> {
  const checkpoint = await loadCheckpoint(path); // refuses one without a model config
  const model = new MelVae(checkpoint.model);
  loadModelWeights(model, checkpoint);
  return { model, checkpoint };
}

/** SHA-256 of a file's bytes as hex: what identifies the base of an adapted checkpoint. */
export async function fileSha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
