/**
 * The on-disk feature cache written by `deno task prepare`:
 *
 *   CACHE/index.json          what is in the cache: format version, the feature config, the
 *                             source folder and split, the planned clip list's fingerprint, one
 *                             entry per shard (file, clip and frame counts, bytes, skipped clips)
 *                             and the exact per-band statistics of all features (the training
 *                             normalisation, audio/feature_stats.ts)
 *   CACHE/shard-00000.f16     one shard: a header naming its cache, shard and clips, then the
 *                             clips' log-mels as binary16 (audio/feature_shard.ts)
 *   CACHE/part-I-of-N/        with `prepare --part I/N`: the cache of one slice of the clips;
 *                             `prepare --merge` writes CACHE/index.json over all the parts'
 *                             shards (their files stay where they are)
 *
 * Shards are written atomically one after another; the index is written when a run starts
 * (incomplete, with no shards) and when it ends (complete), so a kill leaves the shards done so
 * far, and a rerun reads their headers back and goes on (never rewriting an index a shard, which
 * for a million clips would cost more than the features). A cache whose version, feature config
 * or clip plan differs from the request is refused with a message, never misread. Deno-only
 * (file-system edge).
 * @module
 */
import * as nodePath from "node:path";
import type { SkippedItem } from "./commonvoice.ts";
import { BandStats, type BandStatsJson } from "./feature_stats.ts";
import {
  type CachedClip,
  checkShardEntry,
  clipFeatures,
  type DecodedShard,
  decodeShard,
  encodeShard,
  ShardError,
  type ShardExpectation,
  type ShardHeader,
} from "./feature_shard.ts";
import { type FeatureConfig, type LogMel, logMelBatch, sameFeatures } from "./features.ts";
import { readShardFile } from "./shard_file.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";

export { type CachedClip, ShardError };

/**
 * Bumped whenever the layout of index or shards changes. 2: binary16 shards with headers
 * (`.f16`), shard entries without their clips, exact statistics in the index.
 */
export const CACHE_FORMAT_VERSION = 2;

/** One finished shard, as the index lists it. */
export interface CacheShard {
  /** Its file, relative to the cache folder (`shard-00003.f16`, `part-1-of-4/shard-00000.f16`). */
  file: string;
  /** Clips in it. */
  clips: number;
  /** Feature frames in it. */
  frames: number;
  /** Size of the file. */
  bytes: number;
  /** Clips of this shard that could not be decoded. */
  skipped: SkippedItem[];
  /** The plan its header names, where it differs from the index's (a merged cache's parts). */
  plan?: string;
}

/** Which slice of the clip list a part cache holds (`prepare --part I/N`). */
export interface CachePart {
  /** I, from 0. */
  index: number;
  /** N. */
  count: number;
  /** Fingerprint of the whole clip list the slices are cut from (the same for every part). */
  listing: string;
}

/** The cache's index.json. */
export interface CacheIndex {
  version: number;
  features: FeatureConfig;
  /** The source it was prepared from, and its kind (audio/corpus.ts). */
  source: { data: string; split: string; kind?: string };
  /** Fingerprint of the ordered clip list the shards are cut from (and of the options). */
  plan: string;
  plannedClips: number;
  clipsPerShard: number;
  /** For a part cache: which part. */
  part?: CachePart;
  /** For a merged cache: how many parts it joins. */
  mergedParts?: number;
  /** Rows left out while reading the TSV (before decoding). */
  tsvSkipped: SkippedItem[];
  shards: CacheShard[];
  /** Exact per-band sums of every feature (present once complete). */
  stats?: BandStatsJson;
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

/**
 * FNV-1a, 64-bit, over UTF-8 bytes fed in pieces: a short, stable fingerprint (16 hex digits)
 * of a long text (a million clip paths) without building the text. 16-bit limbs in plain
 * numbers keep it exact and fast.
 */
export class Fingerprint {
  #h = [0x2325, 0x8422, 0x9ce4, 0xcbf2]; // 0xcbf29ce484222325, least significant limb first
  readonly #encoder = new TextEncoder();

  /** Feeds the UTF-8 bytes of `text`. */
  update(text: string): this {
    let [h0, h1, h2, h3] = this.#h;
    for (const b of this.#encoder.encode(text)) {
      h0 ^= b;
      // h · (2^40 + 0x1b3) mod 2^64
      let t0 = h0 * 0x1b3;
      let t1 = h1 * 0x1b3 + (t0 >>> 16);
      let t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
      const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
      t0 &= 0xffff;
      t1 &= 0xffff;
      t2 &= 0xffff;
      h0 = t0;
      h1 = t1;
      h2 = t2;
      h3 = t3 & 0xffff;
    }
    this.#h = [h0, h1, h2, h3];
    return this;
  }

  /** The fingerprint of everything fed so far. */
  digest(): string {
    return this.#h.toReversed().map((l) => l.toString(16).padStart(4, "0")).join("");
  }
}

/** A short, stable fingerprint (FNV-1a, 64-bit as hex) of a string. */
export function fingerprint(text: string): string {
  return new Fingerprint().update(text).digest();
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
      `format version (${index.version}, expected ${CACHE_FORMAT_VERSION}; prepare it again)`,
    );
  }
  for (const s of index.shards) {
    if (!/^(part-\d+-of-\d+\/)?shard-\d+\.f16$/.test(s.file)) {
      throw new Error(`feature cache ${dir}/index.json lists a bad shard file name '${s.file}'`);
    }
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

/** Writes the index atomically (one line a statistics bin, so it stays short and readable). */
export async function writeCacheIndex(dir: string, index: CacheIndex): Promise<void> {
  const { stats, ...rest } = index;
  let text = JSON.stringify(rest, null, 1);
  if (stats) {
    const bins = stats.bins.map((b) => JSON.stringify(b)).join(",\n  ");
    text = text.slice(0, -2) +
      `,\n "stats": {"nMels": ${stats.nMels}, "frames": ${stats.frames}, "bins": [\n  ${bins}\n ]}\n}`;
  }
  await writeFileAtomic(nodePath.join(dir, "index.json"), text + "\n");
}

/** The file name of shard `s` of a cache. */
export function shardFileName(s: number): string {
  return `shard-${String(s).padStart(5, "0")}.f16`;
}

/**
 * Writes one shard atomically (features rounded to binary16) and returns its index entry.
 * `header.shard` is its file name in `dir`.
 */
export async function writeShard(
  dir: string,
  header: Omit<ShardHeader, "values">,
  features: Float32Array,
): Promise<{ entry: CacheShard; bytes: Uint8Array }> {
  const bytes = encodeShard(header, features);
  await writeFileAtomic(nodePath.join(dir, header.shard), bytes);
  return { entry: shardEntry(header.shard, header, bytes.length), bytes };
}

/** The index entry of a shard file `file` whose header is `header`. */
export function shardEntry(
  file: string,
  header: Pick<ShardHeader, "clips" | "skipped">,
  bytes: number,
): CacheShard {
  return {
    file,
    clips: header.clips.length,
    frames: header.clips.reduce((n, c) => n + c.frames, 0),
    bytes,
    skipped: header.skipped,
  };
}

/** What a shard of `index` must say about itself (plan, own file name, bands). */
export function shardExpectation(index: CacheIndex, shard: CacheShard): ShardExpectation {
  return {
    plan: shard.plan ?? index.plan,
    shard: nodePath.basename(shard.file),
    nMels: index.features.nMels,
  };
}

/**
 * Reads and checks one shard of a cache: its header must name this cache's plan and this file,
 * and agree with the index entry. Errors ({@link ShardError}) name the file.
 */
export async function readShard(
  dir: string,
  index: CacheIndex,
  shard: CacheShard,
): Promise<DecodedShard> {
  const path = nodePath.join(dir, shard.file);
  const bytes = await readShardFile(path);
  return checkShardEntry(path, decodeShard(bytes, path, shardExpectation(index, shard)), shard);
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

/** The index of a complete cache made with `features`; a missing or unfinished one is an error. */
export async function openCache(dir: string, features: FeatureConfig): Promise<CacheIndex> {
  const index = await readCacheIndex(dir);
  if (!index) {
    throw new Error(`no feature cache at ${dir} (index.json missing): run deno task prepare`);
  }
  checkCacheMatches(dir, index, features);
  if (!index.complete) {
    throw new Error(`feature cache ${dir} is incomplete: run deno task prepare again to finish it`);
  }
  return index;
}

/**
 * Loads the clips of a complete cache into memory as f32, after checking it was made with
 * `features` (the first `maxClips` only, when given). A shard that is not what its index says
 * (another cache's, cut short, rewritten) is an error naming the file. For training on a cache
 * of any size, see vae/shard_sampler.ts, which streams shards within a memory budget instead.
 */
export async function loadCache(
  dir: string,
  features: FeatureConfig,
  maxClips = Infinity,
): Promise<LoadedClip[]> {
  const index = await openCache(dir, features);
  const out: LoadedClip[] = [];
  for (const shard of index.shards) {
    if (out.length >= maxClips) break;
    if (shard.clips === 0) continue;
    const decoded = await readShard(dir, index, shard);
    for (const c of decoded.header.clips.slice(0, maxClips - out.length)) {
      out.push({ ...c, name: c.path, mel: clipFeatures(decoded, c) });
    }
  }
  return out;
}

/**
 * The clips at the given positions (in cache order, ascending) of a complete cache, reading
 * only the shards that hold them: a few clips of a cache of any size. With `onSkip`, a shard
 * that cannot be used is passed to it (its problem and file) and its clips left out; without,
 * it is an error.
 */
export async function loadClipsAt(
  dir: string,
  index: CacheIndex,
  positions: readonly number[],
  onSkip?: (problem: string, file: string) => void,
): Promise<LoadedClip[]> {
  const out: LoadedClip[] = [];
  let first = 0, p = 0;
  for (const shard of index.shards) {
    const end = first + shard.clips;
    if (p < positions.length && positions[p] < end) {
      let decoded: DecodedShard | null = null;
      try {
        decoded = await readShard(dir, index, shard);
      } catch (e) {
        if (!(e instanceof ShardError && onSkip)) throw e;
        onSkip(e.message, e.file);
      }
      for (; p < positions.length && positions[p] < end; p++) {
        if (!decoded) continue;
        const c = decoded.header.clips[positions[p] - first];
        out.push({ ...c, name: c.path, mel: clipFeatures(decoded, c) });
      }
    }
    first = end;
  }
  return out;
}

/** The clip entries (no features) of every shard of a cache, in order: headers only. */
export async function readCacheClips(dir: string, index: CacheIndex): Promise<CachedClip[]> {
  const out: CachedClip[] = [];
  for (const shard of index.shards) out.push(...(await readShard(dir, index, shard)).header.clips);
  return out;
}

/** The exact statistics of a complete cache, from its index. */
export function cacheStats(dir: string, index: CacheIndex): BandStats {
  if (!index.stats) throw new Error(`feature cache ${dir}/index.json holds no statistics`);
  return BandStats.fromJSON(index.stats, `${dir}/index.json`);
}
