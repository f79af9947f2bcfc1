/**
 * `deno task prepare [--data SRC]... [--split train] [--out CACHE] [--strict] [--part I/N]`:
 * decodes, resamples and featurizes one split of each source — a Common Voice language folder, a
 * plain folder of audio or a corpus list (audio/corpus.ts) — into a feature cache
 * (audio/feature_cache.ts); with several sources, one cache per source under
 * `--out/<source name>/<split>`, the layout `train` keeps under `OUT/cache`. Files of plain
 * folders and lists longer than `--segment-seconds` are cut into segments (audio/segment.ts).
 * Decoding runs on Workers (one per core); log-mels are computed on the GPU a shard at a time.
 * Killed half way, a second run continues where the first stopped and ends with the same cache.
 * Broken clips are skipped, counted and named at the end; `--strict` makes that exit with code 2.
 * `--part I/N` prepares a hash slice of the clips into `CACHE/part-I-of-N`, so N runs can go
 * anywhere; `deno task prepare --merge --out CACHE` joins them into one cache.
 * @module
 */
import * as nodePath from "node:path";
import { formatSkipSummary, hash32, type SkippedItem } from "../audio/commonvoice.ts";
import type { CommonVoiceSplit } from "../audio/commonvoice.ts";
import {
  type CorpusClip,
  type CorpusSource,
  CorpusSourceError,
  FOLDER_SPLITS,
  openSources,
  readSourceSplit,
} from "../audio/corpus.ts";
import { segmentBounds } from "../audio/segment.ts";
import { DecodePool } from "../audio/decode_pool.ts";
import { removeStaleTempFiles, writeFileAtomic } from "../io/atomic_file.ts";
import {
  CACHE_FORMAT_VERSION,
  type CachedClip,
  type CacheIndex,
  type CacheShard,
  cacheStats,
  checkCacheMatches,
  type DecodedClip,
  featurizeBatch,
  Fingerprint,
  fingerprint,
  readCacheIndex,
  shardEntry,
  shardFileName,
  StaleCacheError,
  writeCacheIndex,
} from "../audio/feature_cache.ts";
import { type DecodedShard, decodeShard, encodeShard, ShardError } from "../audio/feature_shard.ts";
import { BandStats } from "../audio/feature_stats.ts";
import {
  DEFAULT_FEATURES,
  type FeatureConfig,
  LogMel,
  minCenteredSamples,
  sameFeatures,
} from "../audio/features.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { Progress } from "./progress.ts";

/** Exit code when `--strict` and something was skipped. */
export const EXIT_SKIPPED = 2;

const USAGE =
  `usage: deno task prepare [--data SRC]... [--split train|dev|test|validated] [--out CACHE]
                         [--clips-per-shard 16] [--min-seconds 0.3] [--max-seconds 20]
                         [--segment-seconds 15] [--dev-fraction 0.1] [--limit N] [--strict]
                         [--part I/N] [--no-gpu]
       deno task prepare --merge --out CACHE
  --data             a Common Voice language folder (clips/ + TSVs), a plain folder of audio
                     (recursive), or a corpus list file (path, speaker, split); may be repeated;
                     default: the bundled sample
  --out              the cache folder; with several --data, the folder holding one cache per
                     source (<source name>/<split>); default: out/cache/<split>, or out/cache
  --min/max-seconds  Common Voice clips outside this range are left out
  --segment-seconds  files of plain folders and lists are cut into segments at most this long
  --dev-fraction     share of a plain folder's speakers (files, where unknown) held out as dev
  --limit            the first N usable clips only (a TSV is read no further)
  --part I/N         only the clips whose path hashes to part I of N (0 <= I < N), into
                     CACHE/part-I-of-N: N runs anywhere (xargs -P, a Kubernetes Indexed Job
                     with --part $JOB_COMPLETION_INDEX/N), then --merge
  --merge            joins the N complete parts under CACHE into one cache (CACHE/index.json)`;

/** The options of one prepare run (of one source into one cache). */
export interface PrepareOptions {
  /** The source: a Common Voice folder, a plain folder of audio or a corpus list. */
  data: string;
  split: CommonVoiceSplit;
  out: string;
  clipsPerShard: number;
  /** Common Voice clips shorter than this are left out. */
  minSeconds: number;
  /** Common Voice clips longer than this are left out. */
  maxSeconds: number;
  /** Files of plain folders and lists are cut into segments at most this long. */
  segmentSeconds: number;
  /** Share of a plain folder's speakers (or files) in `dev`. */
  devFraction: number;
  limit: number;
  strict: boolean;
  features: FeatureConfig;
  /** Prepare only this slice of the clips (`--part I/N`), into `out/part-I-of-N`; null: all. */
  part: { index: number; count: number } | null;
}

/** The Common Voice splits prepare can read. */
const SPLITS: readonly CommonVoiceSplit[] = [
  "train",
  "dev",
  "test",
  "validated",
  "invalidated",
  "other",
];

/**
 * The options of one prepare run from those given, the rest at their defaults (the bundled
 * sample's train split into out/cache/<split>, 16 clips a shard, 0.3–20 s Common Voice clips,
 * 15 s segments, 10 % dev, no limit, the default features); throws a usage error for a
 * combination that cannot run.
 */
export function prepareOptions(given: Partial<PrepareOptions> = {}): PrepareOptions {
  // A field given as undefined (a flag left out) takes its default too.
  given = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const split = given.split ?? "train";
  const opts: PrepareOptions = {
    data: "audio/sample/en",
    out: nodePath.join("out", "cache", split),
    clipsPerShard: 16,
    minSeconds: 0.3,
    maxSeconds: 20,
    segmentSeconds: 15,
    devFraction: 0.1,
    limit: 0,
    strict: false,
    part: null,
    ...given,
    split,
    features: { ...(given.features ?? DEFAULT_FEATURES) },
  };
  if (!SPLITS.includes(opts.split)) {
    throw new UsageError(`--split must be one of ${SPLITS.join(", ")}, got '${opts.split}'`);
  }
  if (opts.maxSeconds <= opts.minSeconds) {
    throw new UsageError("--max-seconds must exceed --min-seconds");
  }
  // Segments are at least a quarter of this long (audio/segment.ts), far above an STFT frame.
  if (!(opts.segmentSeconds >= 1)) {
    throw new UsageError(`--segment-seconds must be at least 1, got ${opts.segmentSeconds}`);
  }
  if (opts.part && !(opts.part.count >= 1 && opts.part.index < opts.part.count)) {
    throw new UsageError(`--part I/N needs 0 <= I < N, got ${opts.part.index}/${opts.part.count}`);
  }
  if (!(opts.devFraction >= 0 && opts.devFraction <= 1)) {
    throw new UsageError(`--dev-fraction must be in [0, 1], got ${opts.devFraction}`);
  }
  return opts;
}

/** A parsed prepare command line: the sources, and where their caches go. */
export interface PrepareArgs {
  /** The options of each source's run (`data` and `out` differ). */
  runs: PrepareOptions[];
  strict: boolean;
  /** `--merge`: join the part caches under each run's `out` instead of preparing. */
  merge: boolean;
}

/** `--part I/N` as numbers (I from 0, as Kubernetes' JOB_COMPLETION_INDEX counts). */
export function parsePart(value: string | undefined): PrepareOptions["part"] {
  if (value === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m) throw new UsageError(`--part must be I/N (e.g. 0/4), got '${value}'`);
  const part = { index: Number(m[1]), count: Number(m[2]) };
  if (!(part.count >= 1 && part.index < part.count)) {
    throw new UsageError(`--part I/N needs 0 <= I < N, got ${value}`);
  }
  return part;
}

/** Parses and checks the command line; throws a usage error before any work starts. */
export async function parsePrepareArgs(args: string[]): Promise<PrepareArgs> {
  const values = parseFlags(args, {
    data: { type: "string", multiple: true, default: [] },
    split: { type: "string" },
    out: { type: "string" },
    "clips-per-shard": { type: "string" },
    "min-seconds": { type: "string" },
    "max-seconds": { type: "string" },
    "segment-seconds": { type: "string" },
    "dev-fraction": { type: "string" },
    limit: { type: "string" },
    strict: { type: "boolean", default: false },
    part: { type: "string" },
    merge: { type: "boolean", default: false },
  });
  if (values.merge && values.part !== undefined) {
    throw new UsageError("--merge joins the parts written by --part; give one or the other");
  }
  const base = prepareOptions({
    split: values.split as CommonVoiceSplit | undefined,
    clipsPerShard: numberFlag("clips-per-shard", values["clips-per-shard"], {
      min: 1,
      integer: true,
    }),
    minSeconds: numberFlag("min-seconds", values["min-seconds"], { min: 0 }),
    maxSeconds: numberFlag("max-seconds", values["max-seconds"], { min: 0.1 }),
    segmentSeconds: numberFlag("segment-seconds", values["segment-seconds"], { min: 0 }),
    devFraction: numberFlag("dev-fraction", values["dev-fraction"], { min: 0 }),
    limit: numberFlag("limit", values.limit, { min: 0, integer: true }),
    strict: values.strict,
    part: parsePart(values.part),
  });
  const sources = await openDataFlags(values.data.length ? values.data : [base.data]);
  for (const s of sources) {
    if (s.kind === "cache") throw new UsageError(`--data ${s.path} is already a prepared cache`);
    if (s.kind !== "commonvoice" && !(FOLDER_SPLITS as readonly string[]).includes(base.split)) {
      throw new UsageError(
        `--split ${base.split}: --data ${s.path} is a ${
          s.kind === "list" ? "corpus list" : "plain folder"
        }, ` +
          `whose splits are ${FOLDER_SPLITS.join(" and ")}`,
      );
    }
  }
  if (sources.length === 1) {
    return {
      runs: [{ ...base, data: sources[0].path, out: values.out ?? base.out }],
      strict: base.strict,
      merge: values.merge,
    };
  }
  const root = values.out ?? nodePath.join("out", "cache");
  return { runs: sourceRuns(sources, base, root), strict: base.strict, merge: values.merge };
}

/** Opens the `--data` sources; a missing one or one given twice is a usage error. */
export async function openDataFlags(paths: readonly string[]): Promise<CorpusSource[]> {
  try {
    return await openSources(paths);
  } catch (e) {
    if (e instanceof CorpusSourceError) throw new UsageError(`--data ${e.message}`);
    throw e;
  }
}

/** One run per source, each into `<root>/<source name>/<split>`. */
export function sourceRuns(
  sources: readonly CorpusSource[],
  base: PrepareOptions,
  root: string,
): PrepareOptions[] {
  return sources.map((s) => ({
    ...base,
    data: s.path,
    out: nodePath.join(root, s.name, base.split),
  }));
}

/** What a prepare run did. */
export interface PrepareSummary {
  index: CacheIndex;
  /** The cache folder written (`--out`, or its `part-I-of-N` folder). */
  dir: string;
  skipped: SkippedItem[];
  resumedFromShard: number;
}

/** The folder of part `index` of `count` inside a cache folder. */
export function partFolder(part: { index: number; count: number }): string {
  return `part-${part.index}-of-${part.count}`;
}

/**
 * The part (0…count−1) a clip or skipped row belongs to: a hash of its name, so each lands in
 * exactly one part, whatever machine prepares it and in whatever order.
 */
export function clipPart(name: string, count: number): number {
  return hash32(`part\u0000${name}`) % count;
}

/** Runs prepare; the caller owns the process (exit codes, printing the summary). */
export async function prepare(opts: PrepareOptions): Promise<PrepareSummary> {
  const [source] = await openDataFlags([opts.data]);
  if (source.kind === "cache") {
    throw new UsageError(`--data ${opts.data} is already a prepared cache`);
  }
  const listed = await readSourceSplit(source, opts.split, {
    minDurationSeconds: opts.minSeconds,
    maxDurationSeconds: opts.maxSeconds,
    devFraction: opts.devFraction,
    limit: opts.limit > 0 ? opts.limit : undefined,
  });
  const limited = listed.clips;
  const { part } = opts;
  const inPart = (name: string) => !part || clipPart(name, part.count) === part.index;
  const clips = part ? limited.filter((c) => inPart(c.path)) : limited;
  const tsvSkipped = listed.skipped.filter((s) => inPart(s.name));
  // Plain folders and lists are segmented; Common Voice clips are filtered by duration instead.
  const segmentSeconds = source.kind === "commonvoice" ? null : opts.segmentSeconds;
  const options = JSON.stringify({
    split: opts.split,
    perShard: opts.clipsPerShard,
    min: opts.minSeconds,
    max: opts.maxSeconds,
    ...(segmentSeconds === null ? {} : { kind: source.kind, segmentSeconds }),
  });
  const listPrint = (list: readonly CorpusClip[]) => {
    const f = new Fingerprint().update(options);
    for (const c of list) f.update(`\n${c.path}`);
    return f;
  };
  const plan = listPrint(clips).update(part ? `\npart ${part.index}/${part.count}` : "").digest();
  const dir = part ? nodePath.join(opts.out, partFolder(part)) : opts.out;
  await Deno.mkdir(dir, { recursive: true });
  await removeStaleTempFiles(dir, (name) => name === "index.json" || /^shard-\d+\.f16$/.test(name));
  let index = await readCacheIndex(dir);
  if (index) checkCacheMatches(dir, index, opts.features, plan);
  index ??= {
    version: CACHE_FORMAT_VERSION,
    features: opts.features,
    source: { data: opts.data, split: opts.split, kind: source.kind },
    plan,
    plannedClips: clips.length,
    clipsPerShard: opts.clipsPerShard,
    ...(part ? { part: { ...part, listing: listPrint(limited).digest() } } : {}),
    tsvSkipped,
    shards: [],
    complete: false,
  };
  let resumedFromShard = 0;
  if (!index.complete) {
    await writeCacheIndex(dir, index);
    const shardCount = Math.ceil(clips.length / opts.clipsPerShard);
    const job: ShardJob = { opts, dir, clips, index, shardCount, segmentSeconds };
    const stats = new BandStats(opts.features.nMels);
    index.shards = await finishedShards(job, stats);
    resumedFromShard = index.shards.length;
    await featurizeShards(job, stats);
    if (stats.frames > 0) index.stats = stats.toJSON();
    index.complete = true;
    await writeCacheIndex(dir, index);
  }
  const skipped = [...index.tsvSkipped, ...index.shards.flatMap((s) => s.skipped)];
  return { index, dir, skipped, resumedFromShard };
}

/** What featurizing a plan's shards needs. */
interface ShardJob {
  opts: PrepareOptions;
  /** The cache folder. */
  dir: string;
  clips: CorpusClip[];
  /** Its `shards` grow as shards are written. */
  index: CacheIndex;
  shardCount: number;
  /** Cut files longer than this into segments (null: keep whole). */
  segmentSeconds: number | null;
}

/**
 * The shards an earlier, killed run of the same plan left, in order up to the first missing
 * one (or one that is not of this plan, which is then redone), their features added to
 * `stats`: a rerun goes on after them and ends with the same cache.
 */
async function finishedShards(job: ShardJob, stats: BandStats): Promise<CacheShard[]> {
  const { dir, index, shardCount } = job;
  const entries: CacheShard[] = [];
  for (let s = 0; s < shardCount; s++) {
    const file = shardFileName(s);
    const path = nodePath.join(dir, file);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) break;
      throw e;
    }
    let decoded: DecodedShard;
    try {
      decoded = decodeShard(bytes, path, { plan: index.plan, shard: file, nMels: stats.nMels });
    } catch (e) {
      if (!(e instanceof ShardError)) throw e;
      console.error(`prepare: ${e.message}; preparing it again`);
      break;
    }
    stats.addHalf(decoded.half, path);
    entries.push(shardEntry(file, decoded.header, bytes.length));
  }
  return entries;
}

async function featurizeShards(job: ShardJob, stats: BandStats): Promise<void> {
  const { opts, dir, clips, index, shardCount } = job;
  const logMel = new LogMel(opts.features);
  const pool = new DecodePool();
  const { nFft, sampleRate, nMels } = opts.features;
  const progress = new Progress("prepare", clips.length);
  let audioSeconds = 0;
  let done = index.shards.length * opts.clipsPerShard;
  // The previous shard's write (and fsync) runs while the next one is featurized; shards are
  // still written in order, one at a time, so a kill leaves a prefix of them.
  let writing: Promise<void> = Promise.resolve();
  try {
    const shardRows = (s: number) =>
      clips.slice(s * opts.clipsPerShard, (s + 1) * opts.clipsPerShard);
    const decodeShardRows = (s: number) =>
      Promise.all(shardRows(s).map((r) => pool.decode(r.audioPath, sampleRate)));
    // The workers decode shard s + 1 while the GPU featurizes shard s.
    let next = decodeShardRows(index.shards.length);
    for (let s = index.shards.length; s < shardCount; s++) {
      const rows = shardRows(s);
      const decoded = await next;
      next = decodeShardRows(s + 1);
      const skipped: SkippedItem[] = [];
      const ok: DecodedClip[] = [];
      decoded.forEach((d, i) => {
        if ("error" in d) skipped.push({ name: rows[i].path, reason: d.error, kind: "invalid" });
        else if (d.samples.length < minCenteredSamples(nFft)) {
          skipped.push({
            name: rows[i].path,
            reason: `too short (${d.samples.length} samples)`,
            kind: "invalid",
          });
        } else ok.push(...segmentClip(rows[i], d.samples, sampleRate, job.segmentSeconds));
      });
      const { data, entries } = await featurizeInBatches(logMel, ok, opts.clipsPerShard);
      await writing;
      const header = { plan: index.plan, shard: shardFileName(s), nMels, clips: entries, skipped };
      const bytes = encodeShard(header, data);
      stats.addHalf(decodeShard(bytes, header.shard).half, header.shard);
      index.shards.push(shardEntry(header.shard, header, bytes.length));
      writing = writeFileAtomic(nodePath.join(dir, header.shard), bytes);
      done += rows.length;
      audioSeconds += entries.reduce((t, c) => t + c.durationSeconds, 0);
      progress.update(done, [`${(audioSeconds / 3600).toFixed(3)} h audio`]);
    }
    await writing;
    progress.done(Math.min(done, clips.length), [`${(audioSeconds / 3600).toFixed(3)} h audio`]);
  } finally {
    await writing.catch(() => {});
    pool.close();
    logMel.dispose();
  }
}

/**
 * `prepare --merge`: joins the part caches `dir/part-I-of-N` (all N of them, complete, of one
 * clip listing, features and options) into one cache by writing `dir/index.json` over their
 * shards, which stay where they are. The result holds every clip of one run, with the same
 * features byte for byte, and the same statistics (summed exactly); only the grouping of clips
 * into shards differs. Rerunning it rewrites the same index.
 */
export async function mergeParts(dir: string): Promise<CacheIndex> {
  const found = new Map<number, Set<number>>();
  if (!(await Deno.stat(dir).catch(() => null))?.isDirectory) {
    throw new UsageError(`--merge: ${dir} is not a folder`);
  }
  for await (const e of Deno.readDir(dir)) {
    const m = /^part-(\d+)-of-(\d+)$/.exec(e.name);
    if (m && e.isDirectory) {
      const n = Number(m[2]);
      found.set(n, (found.get(n) ?? new Set()).add(Number(m[1])));
    }
  }
  if (found.size === 0) {
    throw new UsageError(
      `--merge: ${dir} holds no part-I-of-N folders (prepare --part I/N --out ${dir} writes them)`,
    );
  }
  if (found.size > 1) {
    throw new UsageError(
      `--merge: ${dir} holds parts of different counts (of ${[...found.keys()].join(", of ")}); ` +
        "remove the stale ones",
    );
  }
  const [[count, present]] = found;
  const missing = [...Array(count).keys()].filter((i) => !present.has(i));
  if (missing.length) {
    throw new UsageError(
      `--merge: ${dir} lacks ${missing.map((i) => partFolder({ index: i, count })).join(", ")}: ` +
        `run prepare --part ${missing[0]}/${count} (and the others) first`,
    );
  }
  const parts: CacheIndex[] = [];
  for (let i = 0; i < count; i++) {
    const where = nodePath.join(dir, partFolder({ index: i, count }));
    const index = await readCacheIndex(where);
    if (!index?.complete) {
      throw new UsageError(
        `--merge: ${where} is ${index ? "incomplete" : "not a cache"}: run prepare --part ` +
          `${i}/${count} again to finish it`,
      );
    }
    const first = parts[0] ?? index;
    const differs = index.part?.index !== i || index.part?.count !== count
      ? `says it is part ${index.part?.index}/${index.part?.count}`
      : !sameFeatures(index.features, first.features)
      ? "was made with other features"
      : index.part.listing !== first.part?.listing || index.source.split !== first.source.split ||
          index.clipsPerShard !== first.clipsPerShard
      ? "was cut from another clip listing or with other options"
      : null;
    if (differs) throw new StaleCacheError(where, `plan: it ${differs} than part 0`);
    parts.push(index);
  }
  const existing = await readCacheIndex(dir);
  if (existing && existing.mergedParts === undefined) {
    throw new StaleCacheError(dir, "plan: it holds a cache prepared in one run, not merged parts");
  }
  const stats = new BandStats(parts[0].features.nMels);
  for (const [i, p] of parts.entries()) {
    if (p.stats) stats.merge(cacheStats(nodePath.join(dir, partFolder({ index: i, count })), p));
  }
  const merged: CacheIndex = {
    version: CACHE_FORMAT_VERSION,
    features: parts[0].features,
    source: parts[0].source,
    plan: fingerprint(`merged\n${parts.map((p) => p.plan).join("\n")}`),
    plannedClips: parts.reduce((n, p) => n + p.plannedClips, 0),
    clipsPerShard: parts[0].clipsPerShard,
    mergedParts: count,
    tsvSkipped: parts.flatMap((p) => p.tsvSkipped),
    shards: parts.flatMap((p, i) =>
      p.shards.map((s) => ({
        ...s,
        file: `${partFolder({ index: i, count })}/${s.file}`,
        plan: p.plan,
      }))
    ),
    ...(stats.frames > 0 ? { stats: stats.toJSON() } : {}),
    complete: true,
  };
  await writeCacheIndex(dir, merged);
  return merged;
}

/**
 * A decoded file as the clips its cache holds: itself, or when longer than `segmentSeconds`
 * its segments (audio/segment.ts), named `PATH#K` (K from 0) with their start times.
 */
function segmentClip(
  row: CorpusClip,
  samples: Float32Array,
  sampleRate: number,
  segmentSeconds: number | null,
): DecodedClip[] {
  if (segmentSeconds === null || samples.length <= segmentSeconds * sampleRate) {
    return [{ row, samples }];
  }
  const bounds = segmentBounds(samples, sampleRate, { maxSeconds: segmentSeconds });
  return bounds.map(({ start, end }, k) => ({
    row: { ...row, path: `${row.path}#${k}` },
    samples: samples.subarray(start, end),
    startSeconds: start / sampleRate,
  }));
}

/**
 * {@link featurizeBatch} over at most `perBatch` clips at a time (a GPU batch is padded to its
 * longest clip, so a shard of many segments stays small), concatenated in order.
 */
async function featurizeInBatches(
  logMel: LogMel,
  clips: DecodedClip[],
  perBatch: number,
): Promise<{ data: Float32Array; entries: CachedClip[] }> {
  const parts: Float32Array[] = [];
  const entries: CachedClip[] = [];
  let offset = 0;
  for (let i = 0; i < clips.length; i += perBatch) {
    const batch = await featurizeBatch(logMel, clips.slice(i, i + perBatch));
    parts.push(batch.data);
    entries.push(...batch.entries.map((e) => ({ ...e, offset: e.offset + offset })));
    offset += batch.data.length;
  }
  const data = new Float32Array(offset);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { data, entries };
}

/** `N clips (H h, F frames, B MB)` of a cache. */
function cacheSummary(index: CacheIndex): string {
  const clips = index.shards.reduce((n, s) => n + s.clips, 0);
  const frames = index.shards.reduce((n, s) => n + s.frames, 0);
  const { hop, sampleRate } = index.features;
  const megabytes = index.shards.reduce((n, s) => n + s.bytes, 0) / 1e6;
  return `${clips} clips (${(frames * hop / sampleRate / 3600).toFixed(3)} h, ${frames} frames, ` +
    `${megabytes.toFixed(1)} MB)`;
}

if (import.meta.main) {
  await runCommand("prepare", USAGE, async (run) => {
    const { runs, strict, merge } = await parsePrepareArgs(Deno.args);
    run.writesTo(...runs.map((r) => r.out));
    let skippedAny = false;
    if (merge) {
      for (const opts of runs) {
        const index = await mergeParts(opts.out);
        const skipped = [...index.tsvSkipped, ...index.shards.flatMap((s) => s.skipped)];
        console.log(`merged ${index.mergedParts} parts into ${opts.out}: ${cacheSummary(index)}`);
        console.log(formatSkipSummary(skipped));
        skippedAny ||= skipped.length > 0;
      }
      return strict && skippedAny ? EXIT_SKIPPED : 0;
    }
    await initOrExit(Deno.args);
    for (const opts of runs) {
      const summary = await prepare(opts);
      console.log(
        `prepared ${cacheSummary(summary.index)} of ${opts.data} into ${summary.dir}` +
          (summary.resumedFromShard > 0 ? ` (resumed at shard ${summary.resumedFromShard})` : ""),
      );
      console.log(formatSkipSummary(summary.skipped));
      skippedAny ||= summary.skipped.length > 0;
    }
    return strict && skippedAny ? EXIT_SKIPPED : 0;
  });
}
