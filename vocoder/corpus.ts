/**
 * The vocoder's corpus: which files of the shared speech folder it trains on and which it is
 * measured on, following the rules in vocoder/corpus_recipe.json (held-out speakers, the held-out
 * Common Voice rows, dropped folders), and their audio, decoded, resampled and peak-normalised.
 * Kept small and separate on purpose: a corpus module shared with the VAE will replace it.
 * Deno-only (reads folders and files).
 * @module
 */
import * as nodePath from "node:path";
import { parseCommonVoiceTsv } from "../audio/commonvoice.ts";
import { loadAudio } from "../audio/decode.ts";
import { AudioDecodeError } from "../audio/errors.ts";
import { ConfigError } from "../vae/config.ts";

/** The recipe file (see vocoder/corpus_recipe.json for the meaning of each field). */
export interface CorpusRecipe {
  root: string;
  extensions: string[];
  commonVoice: {
    folder: string;
    tsv: string;
    trainRows: [number, number];
    evalRows: [number, number];
  };
  heldOut: Record<string, string[]>;
  heldOutLibriSpeech: { folders: string[]; speakerIdEndsIn: string };
  dropped: Record<string, string>;
  eval: Record<
    string,
    {
      commonVoiceRows?: boolean;
      from?: string;
      heldOutSpeakers?: boolean;
      first?: number;
      files?: string[];
    }
  >;
}

/** The recipe committed beside this module. */
export const DEFAULT_RECIPE = new URL("./corpus_recipe.json", import.meta.url);

/** Files to train on and to evaluate on, relative to the recipe's root. */
export interface CorpusPlan {
  root: string;
  train: string[];
  /** Evaluation sets by name (never trained on). */
  eval: Record<string, string[]>;
  /** Files not trained on because they are held out (evaluation or adaptation speakers). */
  heldOut: string[];
  /** Files dropped by the recipe, with the reason. */
  dropped: { path: string; reason: string }[];
}

/** A decoded clip: mono samples at the requested rate, peak-normalised when asked. */
export interface AudioClip {
  name: string;
  samples: Float32Array;
}

/** Reads and checks a recipe file. */
export async function readRecipe(url: URL | string = DEFAULT_RECIPE): Promise<CorpusRecipe> {
  let recipe: CorpusRecipe;
  try {
    recipe = JSON.parse(await Deno.readTextFile(url));
  } catch (e) {
    throw new ConfigError(`corpus recipe ${url}: ${(e as Error).message}`);
  }
  for (const k of ["root", "extensions", "commonVoice", "heldOut", "heldOutLibriSpeech", "eval"]) {
    if (!(k in recipe)) throw new ConfigError(`corpus recipe ${url}: no "${k}"`);
  }
  return recipe;
}

/** The LibriSpeech speaker id of a file name (`103-1240-0000.flac`, `1320_00000.mp3`, `libri-1088-…`). */
export function librispeechSpeaker(path: string): string | null {
  const m = /^(?:libri-)?(\d+)[-_]\d/.exec(nodePath.basename(path));
  return m ? m[1] : null;
}

async function walk(root: string, dir: string, out: string[]): Promise<void> {
  const entries = [];
  for await (const e of Deno.readDir(nodePath.join(root, dir))) entries.push(e);
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory) await walk(root, rel, out);
    else if (e.isFile) out.push(rel);
  }
}

/**
 * Applies a recipe to the files under its root (resolved against `base`, default the working
 * directory): every audio file is either trained on, held out, or dropped, and the evaluation
 * sets are listed. Deterministic (sorted).
 */
export async function planCorpus(recipe: CorpusRecipe, base = "."): Promise<CorpusPlan> {
  const root = nodePath.resolve(base, recipe.root);
  const stat = await Deno.stat(root).catch(() => null);
  if (!stat?.isDirectory) {
    throw new ConfigError(`corpus root ${root} is not a folder (the recipe's "root")`);
  }
  const all: string[] = [];
  await walk(root, "", all);
  const audio = all.filter((p) => recipe.extensions.some((x) => p.toLowerCase().endsWith(x)));
  // Common Voice rows: 1-based data rows of the TSV.
  const cv = recipe.commonVoice;
  const tsvPath = nodePath.join(root, cv.folder, cv.tsv);
  const table = parseCommonVoiceTsv(await Deno.readFile(tsvPath), tsvPath);
  const rowPath = (i: number) => `${cv.folder}/clips/${table.rows[i - 1].fields.path}`;
  const rows = (r: [number, number]) => {
    if (r[1] > table.rows.length) {
      throw new ConfigError(
        `${tsvPath} has ${table.rows.length} rows, the recipe asks for ${r[1]}`,
      );
    }
    return Array.from({ length: r[1] - r[0] + 1 }, (_, k) => rowPath(r[0] + k));
  };
  const cvTrain = new Set(rows(cv.trainRows));
  const cvEval = rows(cv.evalRows);
  const cvClips = `${cv.folder}/clips/`;
  const heldOutPrefixes = Object.values(recipe.heldOut).flat();
  const ls = recipe.heldOutLibriSpeech;
  const isHeldOutLibri = (p: string) =>
    ls.folders.some((f) => p.startsWith(f)) &&
    (librispeechSpeaker(p)?.endsWith(ls.speakerIdEndsIn) ?? false);
  const plan: CorpusPlan = { root, train: [], eval: {}, heldOut: [], dropped: [] };
  for (const p of audio) {
    const drop = Object.entries(recipe.dropped ?? {}).find(([prefix]) => p.startsWith(prefix));
    if (drop) plan.dropped.push({ path: p, reason: drop[1] });
    else if (p.startsWith(cvClips)) (cvTrain.has(p) ? plan.train : plan.heldOut).push(p);
    else if (heldOutPrefixes.some((prefix) => p.startsWith(prefix)) || isHeldOutLibri(p)) {
      plan.heldOut.push(p);
    } else plan.train.push(p);
  }
  for (const [name, rule] of Object.entries(recipe.eval)) {
    let files: string[];
    if (rule.commonVoiceRows) files = cvEval;
    else if (rule.files) files = rule.files;
    else {
      files = audio.filter((p) =>
        p.startsWith(rule.from ?? "") && (!rule.heldOutSpeakers || isHeldOutLibri(p))
      );
      if (rule.first !== undefined) files = files.slice(0, rule.first);
    }
    const trained = files.filter((f) => plan.train.includes(f));
    if (trained.length) {
      throw new ConfigError(
        `corpus recipe: eval set "${name}" holds training files: ${trained.join(", ")}`,
      );
    }
    plan.eval[name] = files;
  }
  return plan;
}

/** Scales a clip so that its largest magnitude is `peak` (silent clips are left alone). */
export function peakNormalize(samples: Float32Array, peak = 0.95): Float32Array {
  let max = 0;
  for (const v of samples) max = Math.max(max, Math.abs(v));
  if (max === 0) return samples;
  const g = peak / max;
  return samples.map((v) => v * g);
}

/**
 * Decodes files (relative to `root`) to mono at `sampleRate`. A file that cannot be decoded (an
 * unsupported format, a broken file) is skipped and named in `skipped`, never fatal.
 */
export async function loadClips(
  root: string,
  files: readonly string[],
  opts: { sampleRate: number; normalize?: boolean; onProgress?: (done: number) => void },
): Promise<{ clips: AudioClip[]; skipped: { name: string; reason: string }[] }> {
  const clips: AudioClip[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const [i, name] of files.entries()) {
    try {
      const { samples } = await loadAudio(nodePath.join(root, name), {
        sampleRate: opts.sampleRate,
      });
      if (samples.length === 0) skipped.push({ name, reason: "no samples" });
      else clips.push({ name, samples: opts.normalize ? peakNormalize(samples) : samples });
    } catch (e) {
      if (e instanceof AudioDecodeError) skipped.push({ name, reason: e.reason });
      else if (e instanceof Deno.errors.NotFound) skipped.push({ name, reason: "missing file" });
      else throw e;
    }
    opts.onProgress?.(i + 1);
  }
  return { clips, skipped };
}
