/**
 * Checkpoint files: `.safetensors` holding the model's parameters and buffers, the optimizer's
 * moments and the training state that `--resume` needs to continue exactly (the format itself is
 * vae/checkpoint_format.ts). Written to a temp file and renamed, so a kill at any moment leaves
 * the previous checkpoint readable. Deno-only (files).
 * @module
 */
import { writeFileAtomic } from "../io/atomic_file.ts";
import type { MelVae } from "./model.ts";
import {
  type CheckpointExtras,
  decodeCheckpoint,
  encodeCheckpoint,
  type LoadedCheckpoint,
  modelFromCheckpoint,
} from "./checkpoint_format.ts";

export {
  type AdaptationRecord,
  checkModelConfig,
  CHECKPOINT_FORMAT,
  type CheckpointExtras,
  type LoadedCheckpoint,
  loadModelWeights,
  loadOptimizerState,
  type TrainingState,
} from "./checkpoint_format.ts";

/** Saves model (+ optimizer and training state when given) to `path` atomically. */
export async function saveCheckpoint(
  path: string,
  model: MelVae,
  extra: CheckpointExtras = {},
): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(model, extra));
}

/** Reads a checkpoint; errors name the file and what is wrong. */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  return decodeCheckpoint(await Deno.readFile(path), path);
}

/** A model rebuilt from a checkpoint's config and weights (for generate, eval, listen). */
export async function loadModel(
  path: string,
): Promise<{ model: MelVae; checkpoint: LoadedCheckpoint }> {
  const checkpoint = await loadCheckpoint(path);
  return { model: modelFromCheckpoint(checkpoint), checkpoint };
}

/** SHA-256 of a file's bytes as hex: what identifies the base of an adapted checkpoint. */
export async function fileSha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
