/**
 * `deno task prepare [--data DIR] [--split train] [--out CACHE] [--strict]`: decodes, resamples
 * and featurizes one split of a Common Voice language folder into a feature cache
 * (audio/feature_cache.ts). Decoding runs on Workers (one per core); log-mels are computed on
 * the GPU a shard at a time. Killed half way, a second run continues where the first stopped and
 * ends with the same cache. Broken clips are skipped, counted and named at the end; `--strict`
 * makes that exit with code 2.
 * @module
 */
import * as nodePath from "node:path";
import { formatSkipSummary, readCommonVoiceSplit, type SkippedItem } from "../audio/commonvoice.ts";
import type { CommonVoiceSplit } from "../audio/commonvoice.ts";
import { DecodePool } from "../audio/decode_pool.ts";
import { removeStaleTempFiles } from "../io/atomic_file.ts";
import {
  CACHE_FORMAT_VERSION,
  type CacheIndex,
  checkCacheMatches,
  featurizeBatch,
  fingerprint,
  readCacheIndex,
  writeCacheIndex,
  writeShard,
} from "../audio/feature_cache.ts";
import { DEFAULT_FEATURES, type FeatureConfig, LogMel } from "../audio/features.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { Progress } from "./progress.ts";

/** Exit code when `--strict` and something was skipped. */
export const EXIT_SKIPPED = 2;

const USAGE =
  `usage: deno task prepare [--data DIR] [--split train|dev|test|validated] [--out CACHE]
                         [--clips-per-shard 16] [--min-seconds 0.3] [--max-seconds 20]
                         [--limit N] [--strict] [--no-gpu]
  --data   a Common Voice language folder (clips/ + TSVs); default: the bundled sample
  --out    the cache folder; default: out/cache/<split>`;

/** The options of one prepare run. */
export interface PrepareOptions {
  data: string;
  split: CommonVoiceSplit;
  out: string;
  clipsPerShard: number;
  minSeconds: number;
  maxSeconds: number;
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
 * sample's train split into out/cache/<split>, 16 clips a shard, 0.3–20 s clips, no limit, the
 * default features); throws a usage error for a combination that cannot run.
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
  return opts;
}

/** Parses and checks the command line; throws a usage error before any work starts. */
export function parsePrepareArgs(args: string[]): PrepareOptions {
  const values = parseFlags(args, {
    data: { type: "string" },
    split: { type: "string" },
    out: { type: "string" },
    "clips-per-shard": { type: "string" },
    "min-seconds": { type: "string" },
    "max-seconds": { type: "string" },
    limit: { type: "string" },
    strict: { type: "boolean", default: false },
  });
  return prepareOptions({
    data: values.data,
    split: values.split as CommonVoiceSplit | undefined,
    out: values.out,
    clipsPerShard: numberFlag("clips-per-shard", values["clips-per-shard"], {
      min: 1,
      integer: true,
    }),
    minSeconds: numberFlag("min-seconds", values["min-seconds"], { min: 0 }),
    maxSeconds: numberFlag("max-seconds", values["max-seconds"], { min: 0.1 }),
    limit: numberFlag("limit", values.limit, { min: 0, integer: true }),
    strict: values.strict,
  });
}

/** What a prepare run did. */
export interface PrepareSummary {
  index: CacheIndex;
  skipped: SkippedItem[];
  resumedFromShard: number;
}

/** Runs prepare; the caller owns the process (exit codes, printing the summary). */
export async function prepare(opts: PrepareOptions): Promise<PrepareSummary> {
  const stat = await Deno.stat(opts.data).catch(() => null);
  if (!stat?.isDirectory) throw new UsageError(`--data ${opts.data} is not a folder`);
  const { clips: allClips, skipped: tsvSkipped } = await readCommonVoiceSplit(
    opts.data,
    opts.split,
    {
      minDurationSeconds: opts.minSeconds,
      maxDurationSeconds: opts.maxSeconds,
    },
  );
  const clips = opts.limit > 0 ? allClips.slice(0, opts.limit) : allClips;
  const plan = fingerprint(JSON.stringify({
    split: opts.split,
    clips: clips.map((c) => c.path),
    perShard: opts.clipsPerShard,
    min: opts.minSeconds,
    max: opts.maxSeconds,
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
    source: { data: opts.data, split: opts.split },
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
    await featurizeShards(opts, clips, index, shardCount);
    index.complete = true;
    await writeCacheIndex(opts.out, index);
  }
  const skipped = [...index.tsvSkipped, ...index.shards.flatMap((s) => s.skipped)];
  return { index, skipped, resumedFromShard };
}

async function featurizeShards(
  opts: PrepareOptions,
  clips: Awaited<ReturnType<typeof readCommonVoiceSplit>>["clips"],
  index: CacheIndex,
  shardCount: number,
): Promise<void> {
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
      const ok: { row: typeof rows[number]; samples: Float32Array }[] = [];
      decoded.forEach((d, i) => {
        if ("error" in d) skipped.push({ name: rows[i].path, reason: d.error, kind: "invalid" });
        else if (d.samples.length <= nFft / 2) {
          skipped.push({
            name: rows[i].path,
            reason: `too short (${d.samples.length} samples)`,
            kind: "invalid",
          });
        } else ok.push({ row: rows[i], samples: d.samples });
      });
      const file = `shard-${String(s).padStart(5, "0")}.f32`;
      const { data, entries } = await featurizeBatch(logMel, ok);
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

if (import.meta.main) {
  await runCommand("prepare", USAGE, async (run) => {
    const opts = parsePrepareArgs(Deno.args);
    run.writesTo(opts.out);
    await initOrExit(Deno.args);
    const summary = await prepare(opts);
    const clips = summary.index.shards.flatMap((s) => s.clips);
    const hours = clips.reduce((t, c) => t + c.durationSeconds, 0) / 3600;
    const frames = clips.reduce((t, c) => t + c.frames, 0);
    console.log(
      `prepared ${clips.length} clips (${hours.toFixed(3)} h, ${frames} frames) into ${opts.out}` +
        (summary.resumedFromShard > 0 ? ` (resumed at shard ${summary.resumedFromShard})` : ""),
    );
    console.log(formatSkipSummary(summary.skipped));
    return opts.strict && summary.skipped.length > 0 ? EXIT_SKIPPED : 0;
  });
}
