/**
 * Training data sources given as `--data`: what a path is (a Common Voice language folder, a
 * prepared feature cache, a corpus list file, or a plain folder of audio), the stable name its
 * cache is kept under, and the clips of one split of it.
 *
 * - A plain folder is walked recursively for `.wav .mp3 .flac .ogg .opus` files (decoded later
 *   by content, audio/decode.ts). Its held-out split is speaker-disjoint where the file name
 *   says who speaks (audio/speakers.ts), and by the file's path otherwise: the same hash split
 *   as Common Voice delta releases (`speakerSplit`), with a `dev` share and no `test`.
 * - A corpus list file (audio/corpus_list.ts) pins each file's split itself.
 *
 * Nothing in a folder stops a run: a symlink leading outside it is skipped and named; files that
 * do not decode are skipped and named when they are decoded. Deno-only (reads folders).
 * @module
 */
import * as nodePath from "node:path";
import {
  type ClipRow,
  type CommonVoiceSplit,
  isSkip,
  listCommonVoiceSplit,
  type ReadCommonVoiceOptions,
  skip,
  type SkippedItem,
  speakerSplit,
} from "./commonvoice.ts";
import { loadAudio } from "./decode.ts";
import { listedAudioPath, readCorpusList } from "./corpus_list.ts";
import { type CachedClip, fingerprint } from "./feature_cache.ts";
import { speakerOf } from "./speakers.ts";

/** What a `--data` path is. */
export type SourceKind = "commonvoice" | "cache" | "folder" | "list";

/** A `--data` source: its path, what it is, and the name of its cache folder. */
export interface CorpusSource {
  /** The path as given. */
  path: string;
  kind: SourceKind;
  /**
   * `<base name>-<8 hex digits of its real path's hash>`: stable between runs, and two sources
   * with the same base name in different places get different names.
   */
  name: string;
}

/** One audio file of a split: what the feature cache records of it, and where it is. */
export interface CorpusClip {
  /** Its name in the cache: relative to `clips/`, to the folder, or as the list gives it. */
  path: string;
  /** Where the file is (resolved). */
  audioPath: string;
  /** The speaker (`client_id` or a {@link speakerOf} id); "" when unknown. */
  clientId: string;
  /** Transcript ("" when there is none). */
  sentence: string;
}

/** One split of a source. */
export interface SourceSplit {
  clips: CorpusClip[];
  /** Rows and files left out, with reasons. */
  skipped: SkippedItem[];
  /** Where the clips came from, in words (`train.tsv`, `plain folder (speaker hash split)`). */
  from: string;
}

/** Extensions of the audio files a plain folder is searched for (compared in lower case). */
export const AUDIO_EXTENSIONS: readonly string[] = [".wav", ".mp3", ".flac", ".ogg", ".opus"];

/** The splits of a plain folder or a corpus list. */
export const FOLDER_SPLITS = ["train", "dev"] as const;

/** Options of {@linkcode readSourceSplit}. */
export interface ReadSourceOptions extends ReadCommonVoiceOptions {
  /** Share of a plain folder's speakers (or files, where speakers are unknown) in `dev`. */
  devFraction?: number;
  /**
   * Stop after this many usable clips (a Common Voice TSV is then read no further; plain
   * folders and lists are cut to it). Default: all.
   */
  limit?: number;
}

/** A source that cannot be used: it names the path and the problem. */
export class CorpusSourceError extends Error {
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "CorpusSourceError";
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isDirectory ?? false;
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isFile ?? false;
}

/**
 * What `path` is: a file is a corpus list; a folder holding `index.json` a prepared cache; one
 * holding `clips/` and a Common Voice TSV (`validated.tsv` or `train.tsv`) a Common Voice language
 * folder; any other folder a plain folder of audio.
 * @throws {CorpusSourceError} when nothing is there
 */
export async function openSource(path: string): Promise<CorpusSource> {
  const stat = await Deno.stat(path).catch(() => null);
  if (!stat) throw new CorpusSourceError(path, "no such file or folder");
  const real = await Deno.realPath(path);
  let kind: SourceKind;
  if (stat.isFile) kind = "list";
  else if (await isFile(nodePath.join(path, "index.json"))) kind = "cache";
  else if (
    await isDirectory(nodePath.join(path, "clips")) &&
    (await isFile(nodePath.join(path, "validated.tsv")) ||
      await isFile(nodePath.join(path, "train.tsv")))
  ) kind = "commonvoice";
  else kind = "folder";
  const base = nodePath.basename(real).replace(/\.tsv$/i, "").replace(/[^A-Za-z0-9._-]+/g, "_");
  return { path, kind, name: `${base || "root"}-${fingerprint(real).slice(0, 8)}` };
}

/**
 * Opens every `--data` path; the same source given twice is refused (it would be trained on
 * twice), naming both spellings.
 */
export async function openSources(paths: readonly string[]): Promise<CorpusSource[]> {
  const sources: CorpusSource[] = [];
  for (const path of paths) {
    const source = await openSource(path);
    const twin = sources.find((s) => s.name === source.name);
    if (twin) {
      throw new CorpusSourceError(
        path,
        `given twice (also as ${twin.path}); give each source once`,
      );
    }
    sources.push(source);
  }
  return sources;
}

/**
 * The clips of one split of a source (not a prepared cache, which is read as it is).
 * Common Voice folders are read by audio/commonvoice.ts with the options' filters; plain folders
 * and corpus lists have the splits `train` and `dev`.
 * @throws {CorpusSourceError} for a split the source does not have, or a prepared cache
 */
export async function readSourceSplit(
  source: CorpusSource,
  split: CommonVoiceSplit,
  options: ReadSourceOptions = {},
): Promise<SourceSplit> {
  const limit = options.limit ?? Infinity;
  if (source.kind === "commonvoice") {
    // Streamed: only the few fields a cache records are kept of each row, and no row past the
    // limit is read.
    const clips: CorpusClip[] = [];
    const skipped: SkippedItem[] = [];
    const listing = listCommonVoiceSplit(source.path, split, options);
    for (;;) {
      if (clips.length >= limit) {
        await listing.return("");
        return { clips, skipped, from: `the split's first ${limit} clips` };
      }
      const next = await listing.next();
      if (next.done) return { clips, skipped, from: next.value };
      if (isSkip(next.value)) skipped.push(next.value);
      else clips.push(corpusClipOfRow(next.value));
    }
  }
  if (source.kind === "cache") {
    throw new CorpusSourceError(
      source.path,
      "is a prepared feature cache; it is read, not prepared",
    );
  }
  if (!(FOLDER_SPLITS as readonly string[]).includes(split)) {
    throw new CorpusSourceError(
      source.path,
      `a ${source.kind === "list" ? "corpus list" : "plain folder"} has the splits ` +
        `${FOLDER_SPLITS.join(" and ")}, not '${split}'`,
    );
  }
  const listed = source.kind === "list"
    ? await readCorpusList(source.path, split as "train" | "dev")
    : await readPlainFolder(source.path, split as "train" | "dev", options);
  return limit < listed.clips.length ? { ...listed, clips: listed.clips.slice(0, limit) } : listed;
}

function corpusClipOfRow(row: ClipRow): CorpusClip {
  const { path, audioPath, clientId, sentence } = row;
  return { path, audioPath, clientId, sentence };
}

/** One audio file found under a folder: its `/`-separated path relative to it, and where it is. */
export interface FoundAudio {
  path: string;
  audioPath: string;
}

/**
 * Every audio file (by {@link AUDIO_EXTENSIONS}) under `root`, recursively, in sorted order.
 * Symlinks are followed when they resolve inside `root`; one that leads outside, a broken one,
 * or one to a folder is skipped and named.
 */
export async function findAudioFiles(
  root: string,
): Promise<{ files: FoundAudio[]; skipped: SkippedItem[] }> {
  const realRoot = await Deno.realPath(root);
  const files: FoundAudio[] = [];
  const skipped: SkippedItem[] = [];
  const isAudio = (name: string) => AUDIO_EXTENSIONS.includes(nodePath.extname(name).toLowerCase());
  async function walk(rel: string): Promise<void> {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(nodePath.join(root, rel))) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const full = nodePath.join(root, path);
      if (e.isDirectory) await walk(path);
      else if (e.isFile && isAudio(e.name)) files.push({ path, audioPath: full });
      else if (e.isSymlink && isAudio(e.name)) {
        const target = await Deno.realPath(full).catch(() => null);
        if (target === null) skipped.push(skip(path, "missingFile"));
        else if (!target.startsWith(realRoot + nodePath.sep)) {
          skipped.push({ name: path, reason: "symlink to outside the folder", kind: "invalid" });
        } else if (!(await isFile(target))) skipped.push(skip(path, "notAFile"));
        else files.push({ path, audioPath: target });
      }
    }
  }
  await walk("");
  return { files, skipped };
}

/**
 * The split a plain folder's file belongs to: by its speaker when {@link speakerOf} knows it,
 * else by its path (relative to the folder), through `speakerSplit` with no `test` share.
 */
export function plainFolderSplit(
  path: string,
  options: { devFraction?: number; splitSalt?: string } = {},
): "train" | "dev" {
  const key = speakerOf(path) ?? path;
  return speakerSplit(key, {
    devFraction: options.devFraction ?? 0.1,
    testFraction: 0,
    splitSalt: options.splitSalt,
  }) as "train" | "dev";
}

/** The `train` or `dev` files of a plain folder of audio (see {@linkcode plainFolderSplit}). */
export async function readPlainFolder(
  dir: string,
  split: "train" | "dev",
  options: { devFraction?: number; splitSalt?: string } = {},
): Promise<SourceSplit> {
  const found = await findAudioFiles(dir);
  const skipped = found.skipped.filter((s) => plainFolderSplit(s.name, options) === split);
  const clips: CorpusClip[] = [];
  for (const { path, audioPath } of found.files) {
    if (plainFolderSplit(path, options) !== split) continue;
    clips.push({ path, audioPath, clientId: speakerOf(path) ?? "", sentence: "" });
  }
  return { clips, skipped, from: "plain folder (speaker hash split)" };
}

/**
 * The audio of a clip of a source's cache ({@link audioFileOf}): the file decoded at
 * `sampleRate`, cut to the segment's start and length.
 */
export async function loadClipAudio(
  where: { file: string; startSeconds: number; seconds: number },
  sampleRate: number,
): Promise<Float32Array> {
  const { samples } = await loadAudio(where.file, { sampleRate });
  const start = Math.round(where.startSeconds * sampleRate);
  return samples.subarray(start, start + Math.round(where.seconds * sampleRate));
}

/**
 * Where the audio of a clip in a source's cache is: the file, and for a segment (`FILE#K`) its
 * start and length in it, in seconds.
 */
export function audioFileOf(
  source: CorpusSource,
  clip: Pick<CachedClip, "path" | "startSeconds" | "durationSeconds">,
): { file: string; startSeconds: number; seconds: number } {
  const path = clip.startSeconds === undefined ? clip.path : clip.path.replace(/#\d+$/, "");
  const file = source.kind === "commonvoice"
    ? nodePath.join(source.path, "clips", path)
    : source.kind === "list"
    ? listedAudioPath(source.path, path)
    : nodePath.join(source.path, path);
  return { file, startSeconds: clip.startSeconds ?? 0, seconds: clip.durationSeconds };
}
