/**
 * `deno task prepare [--data SRC]... [--split train] [--out CACHE] [--strict]`: decodes, resamples
 * and featurizes one split of each source — a Common Voice language folder, a plain folder of
 * audio or a corpus list (audio/corpus.ts) — into a feature cache (audio/feature_cache.ts); with
 * several sources, one cache per source under `--out/<source name>/<split>`, the layout `train`
 * keeps under `OUT/cache`. Files of plain folders and lists longer than `--segment-seconds` are
 * cut into segments (audio/segment.ts). Decoding runs on Workers (one per core); log-mels are
 * computed on the GPU a shard at a time. Killed half way, a second run continues where the first
 * stopped and ends with the same cache. Broken clips are skipped, counted and named at the end;
 * `--strict` makes that exit with code 2.
 * @module
 */
import * as nodePath from "node:path";
import { formatSkipSummary, type SkippedItem } from "../audio/commonvoice.ts";
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
import { removeStaleTempFiles } from "../io/atomic_file.ts";
import {
  CACHE_FORMAT_VERSION,
  type CachedClip,
  type CacheIndex,
  checkCacheMatches,
  type DecodedClip,
  featurizeBatch,
  fingerprint,
  readCacheIndex,
  writeCacheIndex,
  writeShard,
} from "../audio/feature_cache.ts";
import {
  DEFAULT_FEATURES,
  type FeatureConfig,
  LogMel,
  minCenteredSamples,
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
                         [--no-gpu]
  --data             a Common Voice language folder (clips/ + TSVs), a plain folder of audio
                     (recursive), or a corpus list file (path, speaker, split); may be repeated;
                     default: the bundled sample
  --out              the cache folder; with several --data, the folder holding one cache per
                     source (<source name>/<split>); default: out/cache/<split>, or out/cache
  --min/max-seconds  Common Voice clips outside this range are left out
  --segment-seconds  files of plain folders and lists are cut into segments at most this long
  --dev-fraction     share of a plain folder's speakers (files, where unknown) held out as dev`;

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
  });
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
    };
  }
  const root = values.out ?? nodePath.join("out", "cache");
  return { runs: sourceRuns(sources, base, root), strict: base.strict };
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
  skipped: SkippedItem[];
  resumedFromShard: number;
}

/** Runs prepare; the caller owns the process (exit codes, printing the summary). */
export async function prepare(opts: PrepareOptions): Promise<PrepareSummary> {
  const [source] = await openDataFlags([opts.data]);
  if (source.kind === "cache") {
    throw new UsageError(`--data ${opts.data} is already a prepared cache`);
  }
  const { clips: allClips, skipped: tsvSkipped } = await readSourceSplit(source, opts.split, {
    minDurationSeconds: opts.minSeconds,
    maxDurationSeconds: opts.maxSeconds,
    devFraction: opts.devFraction,
  });
  const clips = opts.limit > 0 ? allClips.slice(0, opts.limit) : allClips;
  // Plain folders and lists are segmented; Common Voice clips are filtered by duration instead.
  const segmentSeconds = source.kind === "commonvoice" ? null : opts.segmentSeconds;
  const plan = fingerprint(JSON.stringify({
    split: opts.split,
    clips: clips.map((c) => c.path),
    perShard: opts.clipsPerShard,
    min: opts.minSeconds,
    max: opts.maxSeconds,
    ...(segmentSeconds === null ? {} : { kind: source.kind, segmentSeconds }),
  }));
  await Deno.mkdir(opts.out, { recursive: true });
  await removeStaleTempFiles(
    opts.out,
    (name) => name === "index.json" || /^shard-\d+\.f32$/.test(name),
  );
  let index = await readCacheIndex(opts.out);
  if (index) checkCacheMatches(opts.out, index, opts.features, plan);
  index ??= {
    version: CACHE_FORMAT_VERSION,
    features: opts.features,
    source: { data: opts.data, split: opts.split, kind: source.kind },
    plan,
    plannedClips: clips.length,
    clipsPerShard: opts.clipsPerShard,
    tsvSkipped,
    shards: [],
    complete: false,
  };
  const resumedFromShard = index.shards.length;
  const shardCount = Math.ceil(clips.length / opts.clipsPerShard);
  if (!index.complete) {
    await writeCacheIndex(opts.out, index);
    await featurizeShards({ opts, clips, index, shardCount, segmentSeconds });
    index.complete = true;
    await writeCacheIndex(opts.out, index);
  }
  const skipped = [...index.tsvSkipped, ...index.shards.flatMap((s) => s.skipped)];
  return { index, skipped, resumedFromShard };
}

/** What featurizing a plan's shards needs. */
interface ShardJob {
  opts: PrepareOptions;
  clips: CorpusClip[];
  /** Updated and written after each shard. */
  index: CacheIndex;
  shardCount: number;
  /** Cut files longer than this into segments (null: keep whole). */
  segmentSeconds: number | null;
}

async function featurizeShards(job: ShardJob): Promise<void> {
  const { opts, clips, index, shardCount } = job;
  const logMel = new LogMel(opts.features);
  const pool = new DecodePool();
  const { nFft, sampleRate } = opts.features;
  const progress = new Progress("prepare", clips.length);
  let audioSeconds = index.shards.reduce(
    (t, s) => t + s.clips.reduce((u, c) => u + c.durationSeconds, 0),
    0,
  );
  let done = index.shards.length * opts.clipsPerShard;
  try {
    const shardRows = (s: number) =>
      clips.slice(s * opts.clipsPerShard, (s + 1) * opts.clipsPerShard);
    const decodeShard = (s: number) =>
      Promise.all(shardRows(s).map((r) => pool.decode(r.audioPath, sampleRate)));
    // The workers decode shard s + 1 while the GPU featurizes shard s.
    let next = decodeShard(index.shards.length);
    for (let s = index.shards.length; s < shardCount; s++) {
      const rows = shardRows(s);
      const decoded = await next;
      next = decodeShard(s + 1);
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
      const file = `shard-${String(s).padStart(5, "0")}.f32`;
      const { data, entries } = await featurizeInBatches(logMel, ok, opts.clipsPerShard);
      await writeShard(opts.out, file, data);
      index.shards.push({ file, clips: entries, skipped });
      await writeCacheIndex(opts.out, index);
      done += rows.length;
      audioSeconds += entries.reduce((t, c) => t + c.durationSeconds, 0);
      progress.update(done, [`${(audioSeconds / 3600).toFixed(3)} h audio`]);
    }
    progress.done(Math.min(done, clips.length), [`${(audioSeconds / 3600).toFixed(3)} h audio`]);
  } finally {
    pool.close();
    logMel.dispose();
  }
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

if (import.meta.main) {
  await runCommand("prepare", USAGE, async (run) => {
    const { runs, strict } = await parsePrepareArgs(Deno.args);
    run.writesTo(...runs.map((r) => r.out));
    await initOrExit(Deno.args);
    let skippedAny = false;
    for (const opts of runs) {
      const summary = await prepare(opts);
      const clips = summary.index.shards.flatMap((s) => s.clips);
      const hours = clips.reduce((t, c) => t + c.durationSeconds, 0) / 3600;
      const frames = clips.reduce((t, c) => t + c.frames, 0);
      console.log(
        `prepared ${clips.length} clips (${hours.toFixed(3)} h, ${frames} frames) ` +
          `of ${opts.data} into ${opts.out}` +
          (summary.resumedFromShard > 0 ? ` (resumed at shard ${summary.resumedFromShard})` : ""),
      );
      console.log(formatSkipSummary(summary.skipped));
      skippedAny ||= summary.skipped.length > 0;
    }
    return strict && skippedAny ? EXIT_SKIPPED : 0;
  });
}
