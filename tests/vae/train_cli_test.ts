/**
 * `deno task train` (cli/train.ts): `--resume` continues exactly (10 + 10 steps give the weights
 * and optimizer state of 20 straight); SIGKILL at many moments with a checkpoint every step
 * always leaves a loadable checkpoint whose step never goes back, and the killed-and-resumed run
 * ends where an uninterrupted one does; a run that turns non-finite keeps its last good
 * checkpoint; bad configs are refused before any work (exit code 64, the message names the
 * field); several --data sources of every kind (Common Voice, plain folder, corpus list) train
 * together, each prepared into its own cache, broken files skipped and named, long files cut into
 * segments, the normalisation over all of them, caches reused and a changed source refused.
 * Trains a tiny model on a 3-clip cache of the bundled sample.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { openSource, plainFolderSplit } from "../../audio/corpus.ts";
import {
  loadCache,
  readCacheClips,
  readCacheIndex,
  StaleCacheError,
} from "../../audio/feature_cache.ts";
import { encodeWav } from "../../audio/wav.ts";
import { prepare, prepareOptions } from "../../cli/prepare.ts";
import { EXIT_USAGE, parseTrainArgs, train } from "../../cli/train.ts";
import { evaluate, parseEvalArgs } from "../../cli/eval.ts";
import {
  ConfigError,
  DEFAULT_MODEL,
  DEFAULT_TRAIN,
  mergeConfig,
  validateModelConfig,
  validateTrainConfig,
} from "../../vae/config.ts";
import { loadCheckpoint, type LoadedCheckpoint } from "../../vae/checkpoint.ts";
import { normalizationStats } from "../../vae/data.ts";
import { NonFiniteError } from "../../vae/trainer.ts";
import { setup } from "../util.ts";
import { withConsoleSpy } from "../audio/fixtures.ts";

await setup();

const ROOT = new URL("../../", import.meta.url).pathname;
const SAMPLE_DIR = nodePath.join(ROOT, "audio/sample/en");
const WORK = await Deno.makeTempDir({ prefix: "train-cli-" });
const CACHE = nodePath.join(WORK, "cache");
await prepare(prepareOptions({ data: SAMPLE_DIR, out: CACHE, limit: 3 }));

const TINY = {
  model: { channels: 8, latentDim: 4, downsampleStages: 1 },
  train: { batch: 2, cropFrames: 16, lr: 1e-3, klWarmupSteps: 10 },
};

async function writeConfig(name: string, json: unknown): Promise<string> {
  const path = nodePath.join(WORK, name);
  await Deno.writeTextFile(path, JSON.stringify(json));
  return path;
}
const CONFIG = await writeConfig("tiny.json", TINY);

/** Arguments of a quiet, report-free run of the tiny config on the 3-clip cache. */
const runArgs = (out: string, steps: number, ...extra: string[]) => [
  "--config",
  CONFIG,
  "--data",
  CACHE,
  "--out",
  out,
  "--steps",
  String(steps),
  "--no-report",
  "--quiet",
  ...extra,
];

const ckptOf = (out: string) => nodePath.join(out, "checkpoint.safetensors");

/** Largest |a[i] − b[i]| (Infinity for NaN or different lengths). */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** Largest |a − b| over every model.* and optim.* tensor; the names must be the same. */
function maxTensorDiff(a: LoadedCheckpoint, b: LoadedCheckpoint, prefixes = ["model.", "optim."]) {
  const names = (c: LoadedCheckpoint) =>
    [...c.tensors.keys()].filter((n) => prefixes.some((p) => n.startsWith(p))).sort();
  assert.deepEqual(names(a), names(b), "the checkpoints hold different tensors");
  assert.ok(names(a).some((n) => n.startsWith("model.encoder.")));
  let max = 0;
  for (const name of names(a)) {
    const x = a.tensors.get(name)!, y = b.tensors.get(name)!;
    assert.deepEqual(x.shape, y.shape, name);
    for (let i = 0; i < x.data.length; i++) {
      const d = Math.abs(x.data[i] - y.data[i]);
      if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
    }
  }
  return max;
}

Deno.test("--resume: 10 + 10 steps give the weights and optimizer state of 20 straight", async () => {
  const straight = nodePath.join(WORK, "straight");
  const split = nodePath.join(WORK, "split");
  const noConfig = nodePath.join(WORK, "split-no-config");
  await train(await parseTrainArgs(runArgs(straight, 20)));
  await train(await parseTrainArgs(runArgs(split, 10)));
  const mid = await loadCheckpoint(ckptOf(split));
  assert.equal(mid.state!.step, 10);
  await Deno.mkdir(noConfig);
  await Deno.copyFile(ckptOf(split), ckptOf(noConfig));
  const { trainer } = await train(await parseTrainArgs(runArgs(split, 20, "--resume")));
  assert.equal(trainer.step, 20);

  const a = await loadCheckpoint(ckptOf(straight));
  const b = await loadCheckpoint(ckptOf(split));
  const diff = maxTensorDiff(a, b);
  assert.ok(diff <= 1e-6, `resumed run differs from the straight one by ${diff}`);
  assert.ok(maxTensorDiff(a, mid, ["model.encoder."]) > 1e-4, "steps 11–20 changed nothing");
  for (const k of ["step", "cropRng", "gpuRng", "skippedSteps"] as const) {
    assert.deepEqual(b.state![k], a.state![k], k);
  }
  assert.deepEqual(b.optimizer, a.optimizer);
  assert.deepEqual(b.train, a.train);
  const steps = (c: LoadedCheckpoint) =>
    (c.state!.history as { train: { step: number }[] }).train.map((p) => p.step);
  // One point per read of the training numbers (cli/train.ts LOG_EVERY = 10 steps).
  assert.deepEqual(steps(b), steps(a), "history not continued");
  assert.deepEqual(steps(a), [10, 20]);

  // Without --config, --resume uses the checkpoint's own architecture (and its train config).
  const args = await parseTrainArgs([
    "--data",
    CACHE,
    "--out",
    noConfig,
    "--steps",
    "20",
    "--resume",
    "--no-report",
    "--quiet",
  ]);
  assert.equal(args.model.channels, DEFAULT_MODEL.channels, "defaults before the checkpoint");
  const resumed = await train(args);
  assert.equal(resumed.trainer.model.config.channels, 8);
  const c = await loadCheckpoint(ckptOf(noConfig));
  assert.ok(maxTensorDiff(a, c) <= 1e-6, "resume without --config diverged");
});

Deno.test("streamed through a budget below the cache, --resume continues the same crops; a damaged shard is named and skipped", async () => {
  // One clip a shard; crops of 64 frames, so a shard gives 2–3 crops before the next enters.
  const cache = nodePath.join(WORK, "stream-cache");
  await prepare(prepareOptions({ data: SAMPLE_DIR, out: cache, limit: 12, clipsPerShard: 1 }));
  const index = (await readCacheIndex(cache))!;
  const total = index.shards.reduce((n, s) => n + s.bytes, 0);
  const budget = 4.2 * Math.max(...index.shards.map((s) => s.bytes));
  assert.ok(total > 1.5 * budget, `cache ${total} bytes, budget ${budget}`);
  const config = await writeConfig("stream.json", {
    ...TINY,
    train: { ...TINY.train, cropFrames: 64 },
  });
  const streamArgs = (data: string, out: string, steps: number, ...extra: string[]) => [
    ...["--config", config, "--data", data, "--out", out, "--steps", String(steps)],
    ...["--cache-memory", String(budget / 2 ** 20), "--no-report", "--quiet", ...extra],
  ];
  const straight = nodePath.join(WORK, "stream-straight");
  const split = nodePath.join(WORK, "stream-split");
  const run = await train(await parseTrainArgs(streamArgs(cache, straight, 20)));
  assert.equal(run.data.resident, false);
  assert.ok(run.data.peakBytes <= budget, `${run.data.peakBytes} bytes held, budget ${budget}`);
  assert.ok(run.data.shardsRead > 12, `only ${run.data.shardsRead} shards entered in 20 steps`);
  await train(await parseTrainArgs(streamArgs(cache, split, 10)));
  const mid = (await loadCheckpoint(ckptOf(split))).state!.loader!;
  assert.ok(mid.cursor > 0, "the stream did not move in 10 steps");
  await train(await parseTrainArgs(streamArgs(cache, split, 20, "--resume")));
  const a = await loadCheckpoint(ckptOf(straight)), b = await loadCheckpoint(ckptOf(split));
  const diff = maxTensorDiff(a, b);
  assert.ok(diff <= 1e-6, `the resumed stream differs from the straight one by ${diff}`);
  assert.deepEqual(b.state!.loader, a.state!.loader);
  assert.equal(b.state!.cropRng, a.state!.cropRng);

  // A copy of the cache with shard 2 cut short trains on, naming it once.
  const damaged = nodePath.join(WORK, "stream-damaged");
  await Deno.mkdir(damaged);
  for (const e of Deno.readDirSync(cache)) {
    await Deno.copyFile(nodePath.join(cache, e.name), nodePath.join(damaged, e.name));
  }
  const file = nodePath.join(damaged, index.shards[2].file);
  const bytes = await Deno.readFile(file);
  await Deno.writeFile(file, bytes.subarray(0, bytes.length - 1000));
  const { result, printed } = await withConsoleSpy(async () =>
    await train(await parseTrainArgs(streamArgs(damaged, nodePath.join(WORK, "stream-d"), 20)))
  );
  assert.equal(result.trainer.step, 20);
  assert.equal(result.data.shardsSkipped, 1);
  const named = printed.filter((l) => l.includes(file));
  assert.equal(named.length, 1, printed.join("\n"));
  assert.match(named[0], /skipped feature shard .*shard-00002\.f16: truncated/);
});

Deno.test("--resume applies --lr and --batch from the next step and records them; --seed is refused", async () => {
  const out = nodePath.join(WORK, "resume-changes");
  await train(await parseTrainArgs(runArgs(out, 4)));
  const before = await loadCheckpoint(ckptOf(out));
  assert.equal(before.train!.lr, TINY.train.lr);
  // The same settings again change nothing (no change recorded, exact resume).
  const same = nodePath.join(WORK, "resume-same");
  await Deno.mkdir(same);
  await Deno.copyFile(ckptOf(out), ckptOf(same));
  await train(await parseTrainArgs([...runArgs(same, 8, "--resume"), "--lr", "0.001"]));
  const exact = await loadCheckpoint(ckptOf(same));
  assert.deepEqual((exact.state!.history as { changes: unknown[] }).changes, []);

  await train(await parseTrainArgs(runArgs(out, 8, "--resume", "--lr", "0.0003", "--batch", "3")));
  const after = await loadCheckpoint(ckptOf(out));
  assert.equal(after.state!.step, 8);
  assert.equal(after.train!.lr, 0.0003, "the saved train config keeps the old lr");
  assert.equal(after.train!.batch, 3, "the saved train config keeps the old batch");
  assert.equal(after.optimizer!.lr, 0.0003, "the optimizer still steps with the old lr");
  const changes = (after.state!.history as { changes: unknown[] }).changes;
  assert.deepEqual(changes, [
    { step: 4, field: "batch", from: 2, to: 3, by: "--batch" },
    { step: 4, field: "lr", from: 0.001, to: 0.0003, by: "--lr" },
  ]);
  // The new settings took effect: steps 5–8 differ from the exact resume.
  assert.ok(maxTensorDiff(after, exact, ["model."]) > 1e-6, "--lr/--batch had no effect");
  assert.notEqual(after.state!.cropRng, exact.state!.cropRng, "no crops of batch 3 were drawn");

  // A second resume keeps the earlier changes in the history; the --config file's train
  // section counts as given too (its batch 2 undoes --batch 3).
  await train(await parseTrainArgs(runArgs(out, 10, "--resume", "--lr", "0.0002")));
  const third = await loadCheckpoint(ckptOf(out));
  assert.deepEqual(
    (third.state!.history as { changes: { step: number; to: number; by: string }[] }).changes
      .map((c) => [c.step, c.to, c.by]),
    [[4, 3, "--batch"], [4, 0.0003, "--lr"], [8, 2, `--config ${CONFIG}`], [8, 0.0002, "--lr"]],
  );

  // The seed names the random streams the resumed run continues: refused, naming the flag.
  await assert.rejects(
    train(await parseTrainArgs(runArgs(out, 12, "--resume", "--seed", "7"))),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /--resume: --seed sets seed 7, but .* was trained with seed 1/);
      return true;
    },
  );
  assert.equal((await loadCheckpoint(ckptOf(out))).state!.step, 10, "the checkpoint was touched");
});

Deno.test("--resume with a different --config model is refused, naming both configs", async () => {
  const out = nodePath.join(WORK, "mismatch");
  await train(await parseTrainArgs(runArgs(out, 2)));
  const wider = await writeConfig("wider.json", {
    ...TINY,
    model: { ...TINY.model, channels: 16 },
  });
  const args = await parseTrainArgs([...runArgs(out, 4, "--resume"), "--config", wider]);
  await assert.rejects(train(args), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.message, /checkpoint\.safetensors was saved with a different model config/);
    assert.match(e.message, /"channels":8/);
    assert.match(e.message, /"channels":16/);
    return true;
  });
  assert.equal((await loadCheckpoint(ckptOf(out))).state!.step, 2, "the checkpoint was touched");
  // --resume with nothing to resume from names the missing file.
  const empty = nodePath.join(WORK, "nothing-here");
  await assert.rejects(
    train(await parseTrainArgs(runArgs(empty, 4, "--resume"))),
    Deno.errors.NotFound,
  );
});

Deno.test("a run that turns non-finite stops with NonFiniteError and keeps its last good checkpoint", async () => {
  const out = nodePath.join(WORK, "nonfinite");
  const config = await writeConfig("nonfinite.json", {
    ...TINY,
    train: { ...TINY.train, maxNonFiniteSteps: 4 },
  });
  const args = await parseTrainArgs([
    ...runArgs(out, 30, "--checkpoint-every", "5"),
    "--config",
    config,
  ]);
  // Steps 13 onwards (trainer.step 12 before the step) produce NaN.
  const poisoned = train(args, { lossHook: (loss, step) => step >= 12 ? loss.mul(NaN) : loss });
  await assert.rejects(poisoned, (e: unknown) => {
    assert.ok(e instanceof NonFiniteError, String(e));
    assert.match(e.message, /stopped at step 16: 4 steps in a row/);
    return true;
  });
  const last = await loadCheckpoint(ckptOf(out));
  assert.equal(last.state!.step, 15, "the checkpoint of step 15 (after 3 skipped steps)");
  assert.equal(last.state!.skippedSteps, 3);
  for (const [name, t] of last.tensors) {
    assert.ok(t.data.every(Number.isFinite), `${name} not finite`);
  }
  // Its weights are those of the last good step: a clean 12-step run has the same.
  const clean = nodePath.join(WORK, "nonfinite-clean");
  await train(await parseTrainArgs([...runArgs(clean, 12), "--config", config]));
  const diff = maxTensorDiff(last, await loadCheckpoint(ckptOf(clean)), ["model."]);
  assert.ok(diff <= 1e-6, `skipped steps changed the weights by ${diff}`);
  // And training resumes from it.
  const { trainer } = await train(
    await parseTrainArgs([
      ...runArgs(out, 18, "--resume"),
      "--config",
      config,
    ]),
  );
  assert.equal(trainer.step, 18);
  assert.equal(trainer.skippedSteps, 3);
});

const PERMS = ["--allow-read=.,/tmp,../shared", "--allow-write=/tmp", "--allow-env"];

function trainCommand(args: string[]): Deno.Command {
  return new Deno.Command("deno", {
    args: ["run", ...PERMS, "cli/train.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  });
}

async function tempFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".tmp")) out.push(e.name);
  return out.sort();
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** Blocks (busy-polling) until a temp file appears in `dir` or `ms` pass; true if one did. */
function waitForTempFileSync(dir: string, ms: number): boolean {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const e of Deno.readDirSync(dir)) if (e.name.endsWith(".tmp")) return true;
  }
  return false;
}

Deno.test("SIGKILL at any moment leaves a loadable checkpoint; the resumed run ends where a straight one does", async () => {
  const out = nodePath.join(WORK, "killed");
  const ckpt = ckptOf(out);
  // A wider model (1 MB checkpoints), so that writes take long enough to be hit.
  const config = await writeConfig("crash.json", {
    ...TINY,
    model: { ...TINY.model, channels: 64 },
  });
  const args = (steps: number, ...extra: string[]) => [
    ...runArgs(out, steps, ...extra),
    "--config",
    config,
  ];
  // When to kill, after the run's first new checkpoint: after a delay (ms), spread over the
  // ~0.5 s save cycle (GPU readback, write, fsync, rename), or "write": as soon as a temp file
  // shows that a checkpoint is being written.
  const kills: (number | "write")[] = [0, "write", 70, 180, "write", 330, 520, "write", 800];
  const dec = new TextDecoder();
  let lastStep = 0;
  let leftovers: string[] = [];
  let midWrite = 0;
  for (const [k, when] of kills.entries()) {
    const child = trainCommand(
      args(100000, "--checkpoint-every", "1", ...(k > 0 ? ["--resume"] : [])),
    ).spawn();
    const output = child.output();
    // Wait until this run has written a checkpoint past the last one (it made progress).
    const deadline = Date.now() + 60_000;
    let progressed = false;
    let exited = false;
    output.then(() => exited = true, () => exited = true);
    while (!progressed && !exited && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 15));
      if (!(await exists(ckpt))) continue;
      const step = (await loadCheckpoint(ckpt)).state!.step;
      progressed = step > lastStep;
    }
    if (progressed) {
      if (when === "write") waitForTempFileSync(out, 3000);
      else await new Promise((r) => setTimeout(r, when));
    }
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    const r = await output;
    assert.ok(progressed, `run ${k} made no progress: ${dec.decode(r.stderr)}`);
    assert.equal(r.signal, "SIGKILL", `run ${k} ended by itself: ${dec.decode(r.stderr)}`);
    // Temp files of the previous killed run were cleared by this one at its start.
    for (const t of leftovers) {
      assert.ok(!(await exists(nodePath.join(out, t))), `${t} survived the next run`);
    }
    const ck = await loadCheckpoint(ckpt); // must always load
    assert.ok(ck.state!.step >= lastStep, `step went back from ${lastStep} to ${ck.state!.step}`);
    assert.ok(ck.state!.step > 0);
    lastStep = ck.state!.step;
    leftovers = await tempFiles(out);
    if (leftovers.length) midWrite++;
  }
  // A final run to a nearby step budget finishes cleanly and leaves no temp file.
  const final = lastStep + 2;
  const r = await trainCommand(args(final, "--resume")).output();
  assert.equal(r.code, 0, dec.decode(r.stderr));
  assert.match(dec.decode(r.stdout), new RegExp(`trained ${final} steps \\(0 skipped\\)`));
  assert.doesNotMatch(dec.decode(r.stdout), /report:/, "--no-report still announced a report");
  assert.deepEqual(await tempFiles(out), [], "temp files left behind");
  assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["checkpoint.safetensors"]);
  const killed = await loadCheckpoint(ckpt);
  assert.equal(killed.state!.step, final);
  const history = (killed.state!.history as { train: { step: number }[] }).train;
  assert.deepEqual(history.map((p) => p.step), Array.from({ length: final }, (_, i) => i + 1));
  // Bit-exact resume across the kills: the same weights and optimizer as one straight run.
  const straight = nodePath.join(WORK, "killed-straight");
  await train(await parseTrainArgs([...runArgs(straight, final), "--config", config]));
  const diff = maxTensorDiff(killed, await loadCheckpoint(ckptOf(straight)));
  assert.ok(diff <= 1e-6, `killed-and-resumed run differs from a straight one by ${diff}`);
  console.log(
    `crash test: ${kills.length} kills (${midWrite} left a temp file: killed mid-write), ` +
      `final step ${final}`,
  );
});

Deno.test("bad configs are refused before any work: exit code 64, the message names the field", async () => {
  const cases: [string, unknown, RegExp][] = [
    ["unknown-key", { train: { learningRate: 1 } }, /train: unknown key "learningRate"/],
    ["negative-lr", { train: { lr: -0.1 } }, /lr must be a finite number >= 0, got -0\.1/],
    ["crop", { train: { cropFrames: 30 } }, /cropFrames 30 must be a multiple of 4/],
    ["section", { optimizer: {} }, /unknown section "optimizer"/],
    ["nested", { model: { features: { nMel: 40 } } }, /model\.features: unknown key "nMel"/],
  ];
  // Issue 13 item 7: each of these used to crash with a TypeError or fail mid-run (leaving a
  // partial feature cache in OUT/cache); the message names the file and the field.
  const features = (f: Record<string, unknown>) => ({ model: { features: f } });
  const fileCases: [string, unknown, RegExp][] = [
    ["null", null, /null\.json: must hold an object/],
    ["model-null", { model: null }, /model-null\.json: model: must be an object, got null/],
    [
      "features-null",
      { model: { features: null } },
      /features-null\.json: model: features: must be an object, got null/,
    ],
    ["hop0", features({ hop: 0 }), /hop0\.json: model: features\.hop: must be .* 1 to/],
    ["nyquist", features({ fMax: 9000 }), /nyquist\.json: model: features\.fMax: .*8000 Hz/],
    ["nfft", features({ nFft: 1000 }), /nfft\.json: model: features\.nFft: must be a power/],
    ["mels", features({ nMels: 600 }), /mels\.json: model: features\.nMels: .*513/],
    [
      "narrow",
      features({ nFft: 256, hop: 64, nMels: 100 }),
      /narrow\.json: model: features\.nMels: 100 bands .* catches no FFT bin/,
    ],
    ["rate", features({ sampleRate: 0 }), /rate\.json: model: features\.sampleRate: must be/],
    ["floor", features({ logFloor: 0 }), /floor\.json: model: features\.logFloor: must be/],
  ];
  const runs = cases.map(async ([name, json, pattern]) => {
    const out = nodePath.join(WORK, `refused-${name}`);
    const config = await writeConfig(`${name}.json`, json);
    const r = await trainCommand(["--config", config, "--data", CACHE, "--out", out]).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, EXIT_USAGE, `${name}: exit ${r.code}: ${err}`);
    assert.match(err, pattern, name);
    assert.match(err, /usage: deno task train/);
    assert.ok(!(await exists(out)), `${name}: --out was created before the config was checked`);
  });
  // From a corpus folder (not a prepared cache), so that a late failure would leave a cache.
  runs.push(...fileCases.map(async ([name, json, pattern]) => {
    const out = nodePath.join(WORK, `refused-${name}`);
    const config = await writeConfig(`${name}.json`, json);
    const r = await trainCommand(["--config", config, "--data", SAMPLE_DIR, "--out", out])
      .output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, EXIT_USAGE, `${name}: exit ${r.code}: ${err}`);
    assert.match(err.replaceAll("\n", " "), pattern, name);
    assert.doesNotMatch(err, /TypeError|at file:/, `${name}: a stack trace`);
    assert.ok(!(await exists(out)), `${name}: --out was written before the config was checked`);
  }));
  // A bad flag and a missing data folder are refused the same way.
  runs.push((async () => {
    const r = await trainCommand(["--data", CACHE, "--out", WORK, "--steps", "ten"]).output();
    assert.equal(r.code, EXIT_USAGE);
    assert.match(new TextDecoder().decode(r.stderr), /--steps must be a number, got 'ten'/);
  })());
  await Promise.all(runs);
});

Deno.test("parseTrainArgs and the validators name the bad field", async () => {
  const bad = async (args: string[], pattern: RegExp) =>
    await assert.rejects(parseTrainArgs(["--data", CACHE, ...args]), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  await bad(["--lr", "0"], /lr must be > 0/);
  await bad(["--batch", "1.5"], /batch must be a positive integer, got 1.5/);
  await bad(["--steps", "0"], /steps must be a positive integer/);
  await bad(["--steps", "5", "--epochs", "1"], /--steps or --epochs, not both/);
  await bad(["--epochs=-1"], /--epochs must be > 0, got -1/);
  await bad(["--lr=-0.5"], /lr must be a finite number >= 0, got -0.5/);
  await bad(["--lr", "-0.5"], /'--lr' argument is ambiguous/);
  await bad(["--frobnicate"], /frobnicate/);
  await bad(["--config", nodePath.join(WORK, "missing.json")], /missing\.json/);
  const notJson = nodePath.join(WORK, "not.json");
  await Deno.writeTextFile(notJson, "{ model: ");
  await bad(["--config", notJson], /not\.json/);
  await assert.rejects(
    parseTrainArgs(["--data", nodePath.join(WORK, "nope")]),
    (e: unknown) =>
      e instanceof ConfigError && /--data .*nope: no such file or folder/.test(e.message),
  );
  await assert.rejects(
    parseTrainArgs(["--data", SAMPLE_DIR, "--data", `${SAMPLE_DIR}/`]),
    (e: unknown) => e instanceof ConfigError && /given twice/.test(e.message),
  );
  await assert.rejects(
    parseTrainArgs(["--dev", SAMPLE_DIR]),
    (e: unknown) => e instanceof ConfigError && /not a prepared feature cache/.test(e.message),
  );

  const m = { ...DEFAULT_MODEL };
  const badModel: [Record<string, unknown>, RegExp][] = [
    [{ channels: 0 }, /channels must be a positive integer/],
    [{ latentDim: 2.5 }, /latentDim must be a positive integer/],
    [{ edgeKernel: 4 }, /edgeKernel must be odd/],
    [{ downsampleStages: 1.5 }, /downsampleStages must be an integer >= 0, got 1.5/],
    [{ likelihood: "cauchy" }, /likelihood must be "gaussian" or "laplace"/],
    [{ learnScale: "yes" }, /learnScale must be true or false/],
    [{ features: { ...m.features, nMels: 0 } }, /features\.nMels: must be a whole number/],
    [{ features: { ...m.features, htk: 1 } }, /features\.htk: must be true or false/],
    [{ features: { ...m.features, norm: "area" } }, /features\.norm: must be "slaney" or null/],
    [{ features: { ...m.features, fMin: 8000 } }, /features\.fMax: must be above fMin/],
    [{ features: { ...m.features, hop: 513 } }, /features\.hop: .* from 1 to nFft\/2 = 512/],
    [{ features: { ...m.features, hop: "256" } }, /features\.hop: .*, got "256"/],
    [{ features: { ...m.features, nFft: 8192 } }, /features\.nFft: .* from 2 to 4096/],
    [{ features: { ...m.features, extra: 1 } }, /features: unknown field "extra"/],
    [{ features: undefined }, /features: must be an object, got nothing/],
    [{ width: 3 }, /unknown field "width"/],
  ];
  for (const [over, pattern] of badModel) {
    assert.throws(() => validateModelConfig({ ...m, ...over } as typeof m), pattern);
  }
  validateModelConfig(m);
  const t = { ...DEFAULT_TRAIN };
  const badTrain: [Record<string, unknown>, RegExp][] = [
    [{ weightDecay: -1 }, /weightDecay must be a finite number >= 0/],
    [{ freeBits: NaN }, /freeBits must be a finite number >= 0/],
    [{ gradClip: "5" }, /gradClip must be a finite number >= 0, got "5"/],
    [{ maxNonFiniteSteps: 0 }, /maxNonFiniteSteps must be a positive integer/],
    [{ cropFrames: 6 }, /cropFrames 6 must be a multiple of 4/],
  ];
  for (const [over, pattern] of badTrain) {
    assert.throws(() => validateTrainConfig({ ...t, ...over } as typeof t, m, "cfg"), pattern);
  }
  // With one downsampling stage, any even crop is fine.
  validateTrainConfig({ ...t, cropFrames: 6 }, { ...m, downsampleStages: 1 });
  // mergeConfig overlays nested objects without touching the base, and refuses unknown keys.
  const merged = mergeConfig(m, { channels: 8, features: { nMels: 40 } }, "x");
  assert.equal(merged.channels, 8);
  assert.equal(merged.features.nMels, 40);
  assert.equal(merged.features.sampleRate, m.features.sampleRate);
  assert.equal(m.features.nMels, DEFAULT_MODEL.features.nMels, "the base was modified");
  assert.throws(
    () => mergeConfig(m, { chanels: 8 }, "f.json: model"),
    /f\.json: model: unknown key "chanels"/,
  );
});

Deno.test("mixed --data: a Common Voice folder, a plain folder and a list train together, each in its own cache", async () => {
  const root = nodePath.join(WORK, "mixed");
  // A Common Voice folder of three sample clips: two train, one dev.
  const cv = nodePath.join(root, "cv", "en");
  await Deno.mkdir(nodePath.join(cv, "clips"), { recursive: true });
  const sampleRows = (await Deno.readTextFile(nodePath.join(SAMPLE_DIR, "train.tsv"))).split("\n");
  const header = sampleRows[0];
  for (const row of sampleRows.slice(1, 4)) {
    const clip = row.split("\t")[1];
    await Deno.copyFile(nodePath.join(SAMPLE_DIR, "clips", clip), nodePath.join(cv, "clips", clip));
  }
  await Deno.writeTextFile(
    nodePath.join(cv, "train.tsv"),
    [header, ...sampleRows.slice(1, 3)].join("\n"),
  );
  await Deno.writeTextFile(nodePath.join(cv, "dev.tsv"), [header, sampleRows[3]].join("\n"));
  await Deno.writeTextFile(nodePath.join(cv, "test.tsv"), header);
  // A plain folder: three real files (FLAC, Ogg Opus, Ogg Vorbis) in subfolders, a broken FLAC,
  // a WAV too short to frame, and a text file.
  const plain = nodePath.join(root, "plain");
  const fixtures = nodePath.join(ROOT, "tests/audio/fixtures");
  const put = async (path: string, bytes: Uint8Array) => {
    await Deno.mkdir(nodePath.dirname(nodePath.join(plain, path)), { recursive: true });
    await Deno.writeFile(nodePath.join(plain, path), bytes);
  };
  const fixture = (name: string) => Deno.readFile(nodePath.join(fixtures, name));
  await put(
    "a/librispeech-1447-130550-0000.flac",
    await fixture("librispeech-1447-130550-0000.flac"),
  );
  await put("a/b/fleurs-es-006.opus.ogg", await fixture("fleurs-es-006.opus.ogg"));
  await put("c/198-209-0000.ogg", await fixture("librispeech-198-209-0000-cut.vorbis.ogg"));
  const broken = (await fixture("librispeech-1447-130550-0000.flac")).slice(0, 200);
  await put("c/broken.flac", broken);
  await put("tiny.wav", encodeWav(new Float32Array(300), 16000));
  await put("notes.txt", new TextEncoder().encode("not audio"));
  // A corpus list beside them: a 20 s recording (cut in two), a dev file, an excluded one and
  // one that is missing.
  const lists = nodePath.join(root, "lists");
  await Deno.mkdir(lists);
  const long = new Float32Array(20 * 16000).map((_, i) =>
    0.3 * Math.sin(i * 0.07) * Math.sin(i / 3000)
  );
  await Deno.writeFile(nodePath.join(root, "long.wav"), encodeWav(long, 16000));
  const list = nodePath.join(lists, "mixed.corpus.tsv");
  const rel = (p: string) => nodePath.relative(lists, p);
  await Deno.writeTextFile(
    list,
    "path\tspeaker\tsplit\n" +
      "../long.wav\tradio:1\ttrain\n" +
      `${rel(nodePath.join(fixtures, "jfk-cut.flac"))}\t\tdev\n` +
      `${rel(nodePath.join(fixtures, "fleurs-es-006.opus.ogg"))}\t\texclude\n` +
      "../gone.wav\t\ttrain\n",
  );

  const out = nodePath.join(root, "run");
  const sources = ["--data", cv, "--data", plain, "--data", list, "--dev-fraction", "0.5"];
  const args = [
    "--config",
    CONFIG,
    ...sources,
    "--out",
    out,
    "--steps",
    "3",
    "--no-report",
    "--quiet",
  ];
  const { trainer, eval: e } = await train(await parseTrainArgs(args));
  assert.equal(trainer.step, 3);

  const cacheOf = async (path: string, split: string) => {
    const dir = nodePath.join(out, "cache", (await openSource(path)).name, split);
    const index = (await readCacheIndex(dir))!;
    assert.ok(index?.complete, `${dir} is not a complete cache`);
    const entries = await readCacheClips(dir, index);
    return {
      dir,
      index,
      entries,
      clips: entries.map((c) => c.path),
      skipped: [...index.tsvSkipped, ...index.shards.flatMap((s) => s.skipped)],
    };
  };
  const cvTrain = await cacheOf(cv, "train"), cvDev = await cacheOf(cv, "dev");
  assert.equal(cvTrain.clips.length, 2);
  assert.equal(cvDev.clips.length, 1);
  // The plain folder's files split by the plain folder rule; the broken and the short one named.
  const audio = [
    "a/b/fleurs-es-006.opus.ogg",
    "a/librispeech-1447-130550-0000.flac",
    "c/198-209-0000.ogg",
    "c/broken.flac",
    "tiny.wav",
  ];
  const plainTrain = await cacheOf(plain, "train"), plainDev = await cacheOf(plain, "dev");
  const bad = ["c/broken.flac", "tiny.wav"];
  for (const [split, cache] of [["train", plainTrain], ["dev", plainDev]] as const) {
    const mine = audio.filter((p) => plainFolderSplit(p, { devFraction: 0.5 }) === split);
    assert.deepEqual(cache.clips, mine.filter((p) => !bad.includes(p)), split);
    assert.deepEqual(cache.skipped.map((s) => s.name), mine.filter((p) => bad.includes(p)), split);
  }
  const named = [...plainTrain.skipped, ...plainDev.skipped];
  assert.match(named.find((s) => s.name === "c/broken.flac")!.reason, /FLAC/);
  assert.match(named.find((s) => s.name === "tiny.wav")!.reason, /too short \(300 samples\)/);
  assert.ok(plainTrain.clips.length > 0 && plainDev.clips.length > 0, "a split is empty");
  // The list: its 20 s file in two segments covering it, its dev file, the missing one named.
  const listTrain = await cacheOf(list, "train"), listDev = await cacheOf(list, "dev");
  assert.deepEqual(listTrain.clips, ["../long.wav#0", "../long.wav#1"]);
  const segments = listTrain.entries;
  assert.equal(segments[0].startSeconds, 0);
  assert.equal(segments[1].startSeconds, segments[0].durationSeconds);
  assert.ok(Math.abs(segments[0].durationSeconds + segments[1].durationSeconds - 20) < 1e-9);
  assert.deepEqual(segments.map((c) => c.clientId), ["radio:1", "radio:1"]);
  assert.deepEqual(listTrain.skipped.map((s) => [s.name, s.reason]), [[
    "../gone.wav",
    "missing file",
  ]]);
  assert.deepEqual(listDev.clips, [rel(nodePath.join(fixtures, "jfk-cut.flac"))]);

  // Normalisation statistics over every source's training clips; eval over every dev clip.
  const trainClips = (await Promise.all(
    [cvTrain, plainTrain, listTrain].map((c) => loadCache(c.dir, DEFAULT_MODEL.features)),
  )).flat();
  const { mean, std } = normalizationStats(trainClips, DEFAULT_MODEL.features.nMels);
  const ckpt = await loadCheckpoint(ckptOf(out));
  const saved = (name: string) => ckpt.tensors.get(name)!.data;
  assert.ok(maxAbsDiff(saved("model.mel_mean"), mean) < 1e-5, "mel_mean is not over all sources");
  assert.ok(maxAbsDiff(saved("model.mel_std"), std) < 1e-5, "mel_std is not over all sources");
  assert.equal(e!.clips, cvDev.clips.length + plainDev.clips.length + listDev.clips.length);

  // eval pools the same sources' dev clips (prepared into its own caches under --cache).
  const evalOpts = await parseEvalArgs([
    "--checkpoint",
    ckptOf(out),
    ...sources,
    "--cache",
    nodePath.join(root, "eval-cache"),
    "--vocoder",
    "none",
  ]);
  assert.deepEqual(
    evalOpts.caches,
    await Promise.all(
      [cv, plain, list].map(async (p) =>
        nodePath.join(root, "eval-cache", (await openSource(p)).name, "dev")
      ),
    ),
  );
  const { stats: pooled, waveform } = await evaluate(evalOpts);
  assert.equal(waveform, null, "--vocoder none measures the features only");
  assert.equal(pooled.clips, e!.clips);
  assert.ok(Math.abs(pooled.elbo - e!.elbo) < 1e-4, `eval ${pooled.elbo} vs train's ${e!.elbo}`);

  // A rerun reuses the caches (nothing rewritten); a source that changed is refused, by name.
  const stamp = async () => (await Deno.stat(nodePath.join(plainTrain.dir, "index.json"))).mtime;
  const before = await stamp();
  await train(await parseTrainArgs(args));
  assert.deepEqual(await stamp(), before, "the plain folder's cache was rewritten");
  const added = audio.find((p) =>
    !bad.includes(p) && plainFolderSplit(p, { devFraction: 0.5 }) === "train"
  )!;
  await put(`z/${nodePath.basename(added)}`, await Deno.readFile(nodePath.join(plain, added)));
  const changedSplit = plainFolderSplit(`z/${nodePath.basename(added)}`, { devFraction: 0.5 });
  await assert.rejects(train(await parseTrainArgs(args)), (err: unknown) => {
    assert.ok(err instanceof StaleCacheError, String(err));
    assert.match(
      err.message,
      new RegExp(`${(changedSplit === "train" ? plainTrain : plainDev).dir}`),
    );
    return true;
  });
});

Deno.test("cleanup", async () => {
  await Deno.remove(WORK, { recursive: true });
});
