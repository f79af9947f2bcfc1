/**
 * The `--vocoder` flag of the commands that output audio: a vocoder file, `griffin-lim`, or by
 * default the shipped `models/vocoder.safetensors` when it exists and was made for the model's
 * features (else Griffin-Lim, saying why). A file given explicitly that does not fit is an error
 * naming the fields. Deno-only (reads the file).
 * @module
 */
import { fileURLToPath } from "node:url";
import type { FeatureConfig } from "../audio/features.ts";
import { ConfigError } from "../vae/config.ts";
import { checkSameFeatures } from "../vocoder/config.ts";
import { loadVocoder } from "../vocoder/checkpoint.ts";
import type { AudioOut } from "../vocoder/synthesis.ts";

/** The vocoder shipped in the repo (see the README's "Neural vocoder"). */
export const DEFAULT_VOCODER_PATH = fileURLToPath(
  new URL("../models/vocoder.safetensors", import.meta.url),
);

/** Help text for the flag. */
export const VOCODER_FLAG_HELP =
  `  --vocoder     FILE (a trained vocoder) or griffin-lim (default: models/vocoder.safetensors
                when it fits the model's features, else Griffin-Lim)`;

/**
 * Resolves `--vocoder` for a model with `features`; `iterations` is Griffin-Lim's. `warn`
 * receives the reason when the default vocoder is passed over.
 */
export async function chooseAudioOut(
  flag: string | undefined,
  features: FeatureConfig,
  iterations: number,
  warn: (message: string) => void = (m) => console.error(m),
): Promise<AudioOut> {
  const griffinLim: AudioOut = { kind: "griffin-lim", iterations };
  if (flag === "griffin-lim") return griffinLim;
  const path = flag ?? DEFAULT_VOCODER_PATH;
  if (flag === undefined && !(await Deno.stat(path).catch(() => null))?.isFile) return griffinLim;
  const vocoder = await loadVocoder(path);
  try {
    checkSameFeatures(vocoder.config.features, features, path, "the model");
  } catch (e) {
    vocoder.dispose();
    if (flag !== undefined) throw e;
    warn(`${(e as Error).message}; using Griffin-Lim`);
    return griffinLim;
  }
  return { kind: "vocoder", vocoder, name: flag ?? "models/vocoder.safetensors" };
}

/** Checks a `--vocoder` value before any work: `griffin-lim`, absent, or an existing file. */
export async function checkVocoderFlag(flag: string | undefined): Promise<void> {
  if (flag === undefined || flag === "griffin-lim") return;
  if (!(await Deno.stat(flag).catch(() => null))?.isFile) {
    throw new ConfigError(`--vocoder ${flag} is neither a file nor "griffin-lim"`);
  }
}
