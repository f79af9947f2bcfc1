/**
 * `deno task train` (cli/train.ts): `--resume` continues exactly (10 + 10 steps give the weights
 * and optimizer state of 20 straight); SIGKILL at many moments with a checkpoint every step
 * always leaves a loadable checkpoint whose step never goes back, and the killed-and-resumed run
 * ends where an uninterrupted one does; a run that turns non-finite keeps its last good
 * checkpoint; bad configs are refused before any work (exit code 64, the message names the
 * field). Trains a tiny model on a 3-clip cache of the bundled sample.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { parsePrepareArgs, prepare } from "../../cli/prepare.ts";
import { EXIT_USAGE, parseTrainArgs, train } from "../../cli/train.ts";
import {
  ConfigError,
  DEFAULT_MODEL,
  DEFAULT_TRAIN,
  mergeConfig,
  validateModelConfig,
  validateTrainConfig,
} from "../../vae/config.ts";
import { loadCheckpoint, type LoadedCheckpoint } from "../../vae/checkpoint.ts";
import { NonFiniteError } from "../../vae/trainer.ts";
import { setup } from "../util.ts";

await setup();

const ROOT = new URL("../../", import.meta.url).pathname;
const SAMPLE_DIR = nodePath.join(ROOT, "audio/sample/en");
const WORK = await Deno.makeTempDir({ prefix: "train-cli-" });
const CACHE = nodePath.join(WORK, "cache");
await prepare(parsePrepareArgs(["--data", SAMPLE_DIR, "--out", CACHE, "--limit", "3"]));

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
  await assert.rejects(parseTrainArgs(["--data", nodePath.join(WORK, "nope")]), /is not a folder/);

  const m = { ...DEFAULT_MODEL };
  const badModel: [Record<string, unknown>, RegExp][] = [
    [{ channels: 0 }, /channels must be a positive integer/],
    [{ latentDim: 2.5 }, /latentDim must be a positive integer/],
    [{ edgeKernel: 4 }, /edgeKernel must be odd/],
    [{ downsampleStages: 1.5 }, /downsampleStages must be an integer >= 0, got 1.5/],
    [{ likelihood: "cauchy" }, /likelihood must be "gaussian" or "laplace"/],
    [{ learnScale: "yes" }, /learnScale must be true or false/],
    [{ features: { ...m.features, nMels: 0 } }, /features\.nMels must be a positive integer/],
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

Deno.test("cleanup", async () => {
  await Deno.remove(WORK, { recursive: true });
});
