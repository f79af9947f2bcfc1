/**
 * The on-disk feature cache written by `deno task prepare`:
 *
 *   CACHE/index.json          what is in the cache: format version, the feature config, the
 *                             source folder and split, the planned clip list's fingerprint, and
 *                             one entry per finished shard (its clips, frame counts, skips)
 *   CACHE/shard-00000.f32     log-mel features of one shard's clips, little-endian f32, each clip
 *                             [frames, nMels] row-major, clips back to back in entry order
 *
 * Shards and the index are written atomically, shard first, so a kill leaves a cache that
 * resumes where it stopped. A cache whose version, feature config or clip plan differs from the
 * request is refused with a message, never misread. Deno-only (file-system edge).
 * @module
 */
import * as nodePath from "node:path";
import type { SkippedItem } from "./commonvoice.ts";
import { type FeatureConfig, type LogMel, logMelBatch } from "./features.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";

/** Bumped whenever the layout of index or shards changes. */
export const CACHE_FORMAT_VERSION = 1;

/** One clip in a shard. */
export interface CachedClip {
  path: string;
  clientId: string;
  sentence: string;
  /** Number of feature frames. */
  frames: number;
  /** Length of the resampled audio, in seconds. */
  durationSeconds: number;
  /** Offset of the clip's first value in the shard, in f32 elements. */
  offset: number;
  /** For a segment of a longer file (`path` is then `FILE#K`): where it starts in the file. */
  startSeconds?: number;
}

/** One finished shard. */
export interface CacheShard {
  file: string;
  clips: CachedClip[];
  /** Clips of this shard that could not be decoded. */
  skipped: SkippedItem[];
}

/** The cache's index.json. */
export interface CacheIndex {
  version: number;
  features: FeatureConfig;
  /** The source it was prepared from, and its kind (audio/corpus.ts; absent in older caches). */
  source: { data: string; split: string; kind?: string };
  /** Fingerprint of the ordered clip list the shards are cut from. */
  plan: string;
  plannedClips: number;
  clipsPerShard: number;
  /** Rows left out while reading the TSV (before decoding). */
  tsvSkipped: SkippedItem[];
  shards: CacheShard[];
  complete: boolean;
}

/** Raised when a cache exists but was made for other features, data or format. */
export class StaleCacheError extends Error {
  constructor(dir: string, what: string) {
    super(
      `feature cache ${dir} was made with a different ${what}; it is refused rather than misread. ` +
        `Use another --out folder or delete ${dir}.`,
    );
    this.name = "StaleCacheError";
  }
}

/** A short, stable fingerprint (FNV-1a, 64-bit as hex) of a string. */
export function fingerprint(text: string): string {
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(text);
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/** Whether two feature configs are the same (every field). */
export function sameFeatures(a: FeatureConfig, b: FeatureConfig): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof FeatureConfig>;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

/** Reads CACHE/index.json, or null when there is none. */
export async function readCacheIndex(dir: string): Promise<CacheIndex | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(nodePath.join(dir, "index.json"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let index: CacheIndex;
  try {
    index = JSON.parse(text);
  } catch (e) {
    throw new Error(`feature cache ${dir}/index.json is not valid JSON: ${(e as Error).message}`);
  }
  if (index.version !== CACHE_FORMAT_VERSION) {
    throw new StaleCacheError(
      dir,
      `format version (${index.version}, expected ${CACHE_FORMAT_VERSION})`,
    );
  }
  return index;
}

/** Checks that an existing index matches what is asked for; throws {@link StaleCacheError}. */
export function checkCacheMatches(
  dir: string,
  index: CacheIndex,
  features: FeatureConfig,
  plan?: string,
): void {
  if (!sameFeatures(index.features, features)) {
    throw new StaleCacheError(dir, `feature config (${JSON.stringify(index.features)})`);
  }
  if (plan !== undefined && index.plan !== plan) {
    throw new StaleCacheError(dir, "clip list or split");
  }
}

/** Writes the index atomically. */
export async function writeCacheIndex(dir: string, index: CacheIndex): Promise<void> {
  await writeFileAtomic(nodePath.join(dir, "index.json"), JSON.stringify(index, null, 1) + "\n");
}

/** Writes one shard's features atomically. */
export async function writeShard(dir: string, file: string, data: Float32Array): Promise<void> {
  await writeFileAtomic(
    nodePath.join(dir, file),
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
}

/**
 * A decoded clip on its way into a shard: its row, its samples at the feature rate, and for a
 * segment of a longer file, where it starts in the file.
 */
export interface DecodedClip {
  row: { path: string; clientId: string; sentence: string };
  samples: Float32Array;
  startSeconds?: number;
}

/**
 * One shard's contents: the log-mels of `clips` (one GPU batch, {@link logMelBatch}) back to
 * back, and their index entries.
 */
export async function featurizeBatch(
  logMel: LogMel,
  clips: DecodedClip[],
): Promise<{ data: Float32Array; entries: CachedClip[] }> {
  const mels = await logMelBatch(logMel, clips.map((c) => c.samples));
  const { nMels, sampleRate } = logMel.config;
  const data = new Float32Array(mels.reduce((n, m) => n + m.length, 0));
  let offset = 0;
  const entries = clips.map(({ row, samples, startSeconds }, i): CachedClip => {
    data.set(mels[i], offset);
    const entry: CachedClip = {
      path: row.path,
      clientId: row.clientId,
      sentence: row.sentence,
      frames: mels[i].length / nMels,
      durationSeconds: samples.length / sampleRate,
      offset,
    };
    if (startSeconds !== undefined) entry.startSeconds = startSeconds;
    offset += mels[i].length;
    return entry;
  });
  return { data, entries };
}

/**
 * A clip's features loaded from the cache: `mel` is [frames, nMels] row-major, `name` its path.
 * With `name`, `frames` and `mel` it is the clip type of training, eval and adaptation
 * (vae/data.ts's `MelClip`), used as it comes.
 */
export interface LoadedClip extends CachedClip {
  name: string;
  mel: Float32Array;
}

/**
 * Loads every clip of a complete cache, after checking it was made with `features`.
 * A shard whose size disagrees with its index entry is an error naming the file.
 */
export async function loadCache(dir: string, features: FeatureConfig): Promise<LoadedClip[]> {
  const index = await readCacheIndex(dir);
  if (!index) {
    throw new Error(`no feature cache at ${dir} (index.json missing): run deno task prepare`);
  }
  checkCacheMatches(dir, index, features);
  if (!index.complete) {
    throw new Error(`feature cache ${dir} is incomplete: run deno task prepare again to finish it`);
  }
  const out: LoadedClip[] = [];
  for (const shard of index.shards) {
    const path = nodePath.join(dir, shard.file);
    const bytes = await Deno.readFile(path);
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const expected = shard.clips.reduce((n, c) => n + c.frames * features.nMels, 0);
    if (data.length !== expected) {
      throw new Error(
        `feature shard ${path} holds ${data.length} values, its index says ${expected}`,
      );
    }
    for (const c of shard.clips) {
      out.push({
        ...c,
        name: c.path,
        mel: data.slice(c.offset, c.offset + c.frames * features.nMels),
      });
    }
  }
  return out;
}
