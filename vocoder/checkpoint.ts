/**
 * The file edges of vocoder checkpoints: save atomically (temp file + rename, so a kill leaves the
 * previous file readable) and load with errors that name the file. The format itself is
 * vocoder/checkpoint_format.ts. Deno-only.
 * @module
 */
import { writeFileAtomic } from "../io/atomic_file.ts";
import { ConfigError } from "../vae/config.ts";
import {
  decodeVocoderCheckpoint,
  encodeVocoderCheckpoint,
  type LoadedVocoderCheckpoint,
  vocoderFromCheckpoint,
  type VocoderTrainingParts,
} from "./checkpoint_format.ts";
import type { Vocoder } from "./model.ts";

/** Writes a vocoder (weights only, as F16, or with its training state) to `path` atomically. */
export async function saveVocoder(
  path: string,
  vocoder: Vocoder,
  training?: VocoderTrainingParts,
): Promise<void> {
  await writeFileAtomic(path, await encodeVocoderCheckpoint(vocoder, training));
}

/** Reads a vocoder checkpoint file; errors name the file and what is wrong. */
export async function readVocoderCheckpoint(path: string): Promise<LoadedVocoderCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ConfigError(`vocoder ${path}: ${(e as Error).message}`);
  }
  return decodeVocoderCheckpoint(bytes, path);
}

/** A ready vocoder from a checkpoint file (a shipped model or a training checkpoint). */
export async function loadVocoder(path: string): Promise<Vocoder> {
  return vocoderFromCheckpoint(await readVocoderCheckpoint(path));
}
