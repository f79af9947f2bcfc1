/**
 * The scale test (issue 17): a Common Voice release's shape on this machine, end to end.
 *
 * 1. Builds a synthetic Common Voice folder (bench/scale_corpus.ts): `--rows` TSV rows (default
 *    1,000,000), each a hard link to one of the 99 real clips of the CV mini set.
 * 2. Lists the train split as `prepare` does (bench/tsv_listing.ts): rows/s and memory.
 * 3. Prepares the first `--clips` clips (default 20,000) fanned out as `--parts` slices
 *    (`prepare --part I/N`) run by `xargs -P --jobs`, then `prepare --merge`: wall time, audio
 *    hours, × real time (wall, and per CPU-second of all the parts), cache size.
 * 4. Trains `--steps` steps on part 0 alone and on the merged cache (sizes `--parts`× apart,
 *    both ≥ 10× `--budget` MB of `--cache-memory`): peak RSS of each, frames/s, the seconds
 *    steps waited for shards; and on the merged cache all in memory (the path before
 *    streaming), whose peak RSS grows with the cache.
 * 5. Trains on the real CV mini set cached in small shards, all in memory and streamed through
 *    a budget a twelfth of it: frames/s and data time of both.
 *
 * Everything it writes goes under one folder in /tmp, removed at the end (`--keep` keeps it);
 * the table is printed and saved as out/bench/scale.json. Child processes are timed by
 * /usr/bin/time (GNU time; peak RSS is its %M).
 *
 *   deno run --allow-read --allow-write=/tmp,out --allow-env --allow-sys=loadavg \
 *     --allow-run=deno,xargs,/usr/bin/time bench/scale.ts [--rows 1000000] [--clips 20000] \
 *     [--parts 16] [--jobs 2] [--clips-per-shard 16] [--budget 8] [--steps 30] [--keep]
 *
 * A short run that still keeps both caches ≥ 10× the budget: `--clips 1600 --parts 12
 * --clips-per-shard 1 --budget 0.5` (shards of one clip, at most 120 KB, stream through a budget
 * that small).
 * @module
 */
import * as nodePath from "node:path";
import { parseArgs } from "node:util";
import { type CacheIndex, readCacheIndex } from "../audio/feature_cache.ts";
import { makeScaleCorpus, REAL_CV } from "./scale_corpus.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rows: { type: "string", default: "1000000" },
    clips: { type: "string", default: "20000" },
    // 16 parts: part 0 holds about 1/16 of the clips, safely over 10× smaller than the whole
    // (with 10, a hash slice holds 10 % ± a few, e.g. 2,036 of 20,000 clips: 9.8×).
    parts: { type: "string", default: "16" },
    jobs: { type: "string", default: "2" },
    "clips-per-shard": { type: "string", default: "16" },
    budget: { type: "string", default: "8" },
    steps: { type: "string", default: "30" },
    keep: { type: "boolean", default: false },
  },
});
const rows = Number(flags.rows), clips = Number(flags.clips), parts = Number(flags.parts);
const jobs = Number(flags.jobs), budgetMB = Number(flags.budget), steps = Number(flags.steps);

const work = await Deno.makeTempDir({ prefix: "audio-gen-scale-" });
const perms = [`--allow-read=.,${work},../shared`, `--allow-write=${work}`, "--allow-env"];
const TIME_FORMAT = '{"rssKB": %M, "wall": %e, "user": %U, "sys": %S}';

/** What /usr/bin/time says of a process. */
interface Timed {
  rssKB: number;
  wall: number;
  user: number;
  sys: number;
}

/** Runs `deno run PERMS args` under /usr/bin/time; its output, and what time measured. */
async function timedDeno(
  args: string[],
  name: string,
): Promise<{ out: string; err: string; time: Timed }> {
  const timeFile = nodePath.join(work, `time-${name}.json`);
  const { code, stdout, stderr } = await new Deno.Command("/usr/bin/time", {
    args: ["-o", timeFile, "-f", TIME_FORMAT, "deno", "run", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${err.slice(-3000)}`);
  return { out, err, time: JSON.parse(await Deno.readTextFile(timeFile)) };
}

const cacheBytes = (index: CacheIndex) => index.shards.reduce((n, s) => n + s.bytes, 0);
const hoursOf = (index: CacheIndex) =>
  index.shards.reduce((n, s) => n + s.frames, 0) * index.features.hop / index.features.sampleRate /
  3600;
const mb = (bytes: number) => bytes / 2 ** 20;
const times = (ratio: number) => ratio.toFixed(ratio >= 10 ? 0 : 2);

/** The `data:` line train prints, as numbers. */
function dataLine(err: string) {
  const line = err.split("\n").find((l) => l.startsWith("data: ")) ?? "";
  const num = (re: RegExp) => Number(re.exec(line)?.[1] ?? NaN);
  return {
    line,
    resident: line.startsWith("data: resident"),
    heldMB: num(/at most ([\d.]+) MB held/),
    startSeconds: num(/waited ([\d.]+) s for the first/),
    waitSeconds: num(/and ([\d.]+) s later/),
    batchSeconds: num(/batches took ([\d.]+) s/),
    stepSeconds: num(/steps' ([\d.]+) s/),
    framesPerSecond: num(/\(([\d.]+) frames\/s\)/),
  };
}

/** Trains `steps` steps of the default model on a cache with a memory budget. */
async function trainOn(cache: string, name: string, budget: number, extra: string[] = []) {
  const run = await timedDeno([
    ...perms,
    "cli/train.ts",
    ...["--data", cache, "--out", nodePath.join(work, name), "--steps", String(steps)],
    ...["--cache-memory", String(budget), "--no-report", "--checkpoint-every", "100000"],
    ...extra,
  ], name);
  return { ...dataLine(run.err), rssMB: run.time.rssKB / 1024, wall: run.time.wall };
}

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  cores: navigator.hardwareConcurrency,
  loadAverage: Deno.loadavg(),
  flags,
};
const table: string[][] = [];
try {
  // 1. The folder.
  let t0 = performance.now();
  const corpus = await makeScaleCorpus(nodePath.join(work, "cv"), rows, REAL_CV);
  const buildSeconds = (performance.now() - t0) / 1000;
  results.corpus = { ...corpus, buildSeconds };
  console.error(`built ${rows} rows in ${buildSeconds.toFixed(0)} s`);

  // 2. Listing the train split, streamed.
  const listing = await timedDeno(
    ["--allow-read", "bench/tsv_listing.ts", corpus.dir, "train"],
    "listing",
  );
  const listed = JSON.parse(listing.out.trim().split("\n").at(-1)!);
  results.listing = { ...listed, peakRssMB: listing.time.rssKB / 1024, time: listing.time };
  table.push([
    "TSV listing (train split, every row checked)",
    `${listed.rows.toLocaleString("en")} rows in ${listed.seconds.toFixed(1)} s = ` +
    `${Math.round(listed.rowsPerSecond).toLocaleString("en")} rows/s; peak RSS ` +
    `${(listing.time.rssKB / 1024).toFixed(0)} MB`,
  ]);
  console.error(`listed: ${JSON.stringify(results.listing)}`);

  // 3. Prepare, fanned out with xargs -P, then merged.
  const cache = nodePath.join(work, "cache");
  t0 = performance.now();
  const fan = new Deno.Command("xargs", {
    args: [
      ...["-P", String(jobs), "-I{}", "/usr/bin/time", "-o", `${work}/time-part-{}.json`],
      ...["-f", TIME_FORMAT, "deno", "run", ...perms, "cli/prepare.ts"],
      ...["--data", corpus.dir, "--split", "train", "--limit", String(clips)],
      ...["--out", cache, "--part", `{}/${parts}`],
      ...["--clips-per-shard", flags["clips-per-shard"]],
    ],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = fan.stdin.getWriter();
  await writer.write(new TextEncoder().encode([...Array(parts).keys()].join("\n") + "\n"));
  await writer.close();
  const fanned = await fan.output();
  if (!fanned.success) {
    throw new Error(
      `prepare parts failed:\n${new TextDecoder().decode(fanned.stderr).slice(-3000)}`,
    );
  }
  const prepareWall = (performance.now() - t0) / 1000;
  const merge = await timedDeno([...perms, "cli/prepare.ts", "--merge", "--out", cache], "merge");
  const merged = (await readCacheIndex(cache))!;
  const partTimes: Timed[] = await Promise.all(
    [...Array(parts).keys()].map(async (i) =>
      JSON.parse(await Deno.readTextFile(`${work}/time-part-${i}.json`))
    ),
  );
  const cpu = partTimes.reduce((t, p) => t + p.user + p.sys, 0);
  const audioSeconds = hoursOf(merged) * 3600;
  const mergedClips = merged.shards.reduce((n, s) => n + s.clips, 0);
  results.prepare = {
    clips: mergedClips,
    audioHours: hoursOf(merged),
    wallSeconds: prepareWall,
    cpuSeconds: cpu,
    realTimeWall: audioSeconds / prepareWall,
    realTimePerCpuSecond: audioSeconds / cpu,
    peakRssMB: Math.max(...partTimes.map((p) => p.rssKB)) / 1024,
    mergeSeconds: merge.time.wall,
    cacheBytes: cacheBytes(merged),
    shards: merged.shards.length,
  };
  table.push([
    `prepare ${mergedClips.toLocaleString("en")} clips: ${parts} parts, xargs -P ${jobs}`,
    `${hoursOf(merged).toFixed(1)} h of audio in ${prepareWall.toFixed(0)} s = ` +
    `${(audioSeconds / prepareWall).toFixed(0)}× real time (wall); ` +
    `${(audioSeconds / cpu).toFixed(0)}× per CPU-second; merge ${merge.time.wall.toFixed(1)} s`,
  ]);
  // The same features as f32 (format 1): 4 bytes a value, no headers.
  const f32Bytes = merged.shards.reduce((n, s) => n + s.frames, 0) * merged.features.nMels * 4;
  (results.prepare as Record<string, number>).f32Bytes = f32Bytes;
  table.push([
    "cache (binary16)",
    `${mb(cacheBytes(merged)).toFixed(0)} MB in ${merged.shards.length} shards = ` +
    `${(mb(cacheBytes(merged)) / hoursOf(merged)).toFixed(1)} MB per hour of audio ` +
    `(as f32: ${mb(f32Bytes).toFixed(0)} MB)`,
  ]);
  console.error(`prepared: ${JSON.stringify(results.prepare)}`);

  // 4. Training's peak RSS on two cache sizes, both far above the budget.
  const small = nodePath.join(cache, `part-0-of-${parts}`);
  const smallIndex = (await readCacheIndex(small))!;
  const trainRuns: Record<string, unknown> = {};
  for (
    const [name, dir, index, budget] of [
      ["small", small, smallIndex, budgetMB],
      ["large", cache, merged, budgetMB],
      ["large-in-memory", cache, merged, 2048],
    ] as const
  ) {
    const r = await trainOn(dir, `train-${name}`, budget);
    trainRuns[name] = { cacheMB: mb(cacheBytes(index)), ...r };
    const cacheMB = mb(cacheBytes(index));
    table.push([
      `train, ${name === "small" ? "small" : "large"} cache ${cacheMB.toFixed(0)} MB, ` +
      (r.resident
        ? "all in memory"
        : `streamed (${times(cacheMB / budget)}× --cache-memory ${budget})`),
      `peak RSS ${r.rssMB.toFixed(0)} MB; ${
        r.framesPerSecond.toFixed(0)
      } frames/s; shards held ≤ ` +
      `${r.heldMB} MB; waited ${r.startSeconds} s at start, ${r.waitSeconds} s in ${steps} steps ` +
      `(${(100 * r.waitSeconds / r.stepSeconds).toFixed(2)} %); batches ${r.batchSeconds} s`,
    ]);
    console.error(`${name}: ${r.line} (rss ${r.rssMB.toFixed(0)} MB)`);
  }
  results.train = trainRuns;

  // 5. The CV mini set: all in memory against streamed through a twelfth of it.
  const mini = nodePath.join(work, "mini");
  await timedDeno([
    ...perms,
    "cli/prepare.ts",
    ...["--data", REAL_CV, "--split", "validated", "--clips-per-shard", "4", "--out", mini],
  ], "mini-prepare");
  const miniIndex = (await readCacheIndex(mini))!;
  const largest = Math.max(...miniIndex.shards.map((s) => s.bytes));
  const streamMB = Math.max(mb(cacheBytes(miniIndex)) / 12, mb(4.5 * largest));
  const inMemory = await trainOn(mini, "mini-memory", 2048);
  const streamed = await trainOn(mini, "mini-streamed", streamMB);
  results.mini = { cacheMB: mb(cacheBytes(miniIndex)), streamMB, inMemory, streamed };
  for (const [name, r] of [["in memory", inMemory], ["streamed", streamed]] as const) {
    table.push([
      `train on the CV mini cache (${mb(cacheBytes(miniIndex)).toFixed(1)} MB), ${name}` +
      (r === streamed ? ` (--cache-memory ${streamMB.toFixed(2)})` : ""),
      `${r.framesPerSecond.toFixed(0)} frames/s; batches ${r.batchSeconds} s of ` +
      `${r.stepSeconds} s (${(100 * r.batchSeconds / r.stepSeconds).toFixed(2)} %), waits ` +
      `${r.waitSeconds} s; peak RSS ${r.rssMB.toFixed(0)} MB`,
    ]);
  }
  console.error(`mini: ${inMemory.line}\n      ${streamed.line}`);
} finally {
  results.loadAverageAfter = Deno.loadavg();
  await Deno.mkdir(nodePath.join(ROOT, "out", "bench"), { recursive: true });
  await Deno.writeTextFile(
    nodePath.join(ROOT, "out", "bench", "scale.json"),
    JSON.stringify(results, null, 1) + "\n",
  );
  if (!flags.keep) await Deno.remove(work, { recursive: true });
  else console.error(`kept ${work}`);
}
console.log(
  `scale test, ${navigator.hardwareConcurrency} cores, load ${Deno.loadavg()[0].toFixed(1)}\n`,
);
console.log("| what | measured |\n| --- | --- |");
for (const [what, measured] of table) console.log(`| ${what} | ${measured} |`);
