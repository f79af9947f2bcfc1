/**
 * Tests for vae/checkpoint.ts: a saved checkpoint holds every model tensor, the optimizer's
 * moments and the training state; loading it into fresh objects continues training
 * bit-for-bit; a checkpoint of another architecture, a truncated file or a foreign safetensors
 * file is refused with a message naming the file.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { ConfigError, DEFAULT_TRAIN } from "../../vae/config.ts";
import {
  checkModelConfig,
  CHECKPOINT_FORMAT,
  loadCheckpoint,
  loadModelWeights,
  loadOptimizerState,
  saveCheckpoint,
} from "../../vae/checkpoint.ts";
import { CropSampler, type MelClip, normalizationStats } from "../../vae/data.ts";
import { MelVae } from "../../vae/model.ts";
import {
  decodeSafetensors as decodeOld,
  encodeSafetensors,
  SafetensorsError,
} from "../../vae/safetensors.ts";
import { VaeTrainer } from "../../vae/trainer.ts";
import { randomArray, setup } from "../util.ts";
import { SMALL_MODEL } from "./small_model.ts";

await setup();

const MODEL = SMALL_MODEL;
const TRAIN = { ...DEFAULT_TRAIN, batch: 2, cropFrames: 8, lr: 1e-2, klWarmupSteps: 4 };

const CLIPS: MelClip[] = [20, 13].map((frames, i) => ({
  name: `c${i}`,
  frames,
  mel: Float32Array.from(randomArray(frames * 8, 30 + i, -6, 1)),
}));

function makeTrainer(seed = 1): VaeTrainer<CropSampler> {
  const model = new MelVae(MODEL, seed);
  const { mean, std } = normalizationStats(CLIPS, 8);
  model.setNormalization(mean, std);
  return new VaeTrainer(model, TRAIN, new CropSampler(CLIPS, 8, TRAIN.cropFrames, 2, TRAIN.seed));
}

async function save(path: string, t: VaeTrainer<CropSampler>) {
  await saveCheckpoint(path, t.model, {
    train: t.config,
    optimizer: t.optimizer,
    state: {
      step: t.step,
      gpuRng: t.gpuRng.state(),
      cropRng: t.sampler.state,
      skippedSteps: t.skippedSteps,
      history: { train: [{ step: 1, elbo: -3 }], evals: [] },
    },
  });
}

async function stateOf(model: MelVae): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of model.stateDict()) out.set(name, await t.toArray());
  return out;
}

Deno.test("a checkpoint holds weights, optimizer moments, configs and training state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-" });
  const path = nodePath.join(dir, "checkpoint.safetensors");
  const t = makeTrainer();
  for (let i = 0; i < 3; i++) await t.trainStep();
  await save(path, t);
  const ck = await loadCheckpoint(path);
  assert.equal(ck.path, path);
  assert.equal(ck.metadata.format, CHECKPOINT_FORMAT);
  assert.deepEqual(ck.model, MODEL);
  assert.deepEqual(ck.train, TRAIN);
  assert.equal(ck.state!.step, 3);
  assert.deepEqual(ck.state!.gpuRng, t.gpuRng.state());
  assert.equal(ck.state!.cropRng, t.sampler.state);
  assert.deepEqual(ck.state!.history, { train: [{ step: 1, elbo: -3 }], evals: [] });
  // Every model tensor (parameters and buffers) under model.*, values exact.
  const model = await stateOf(t.model);
  for (const [name, v] of model) {
    const got = ck.tensors.get(`model.${name}`);
    assert.ok(got, `model.${name} missing`);
    assert.deepEqual(got.data, v, name);
  }
  // Both Adam moments of every parameter, and its step count.
  const params = [...t.model.namedParameters().keys()];
  assert.deepEqual(Object.keys(ck.optimizer!.steps).sort(), [...params].sort());
  for (const name of params) {
    assert.equal(ck.optimizer!.steps[name], 3);
    assert.ok(
      ck.tensors.has(`optim.${name}.exp_avg`) && ck.tensors.has(`optim.${name}.exp_avg_sq`),
    );
  }
  assert.equal(ck.tensors.size, model.size + 2 * params.length, "unexpected extra tensors");
  assert.equal(ck.optimizer!.lr, TRAIN.lr);
  // Only the .safetensors file is left in the folder (the temp file was renamed).
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(names, ["checkpoint.safetensors"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("restoring weights, optimizer and RNG states continues training bit-for-bit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-resume-" });
  const path = nodePath.join(dir, "c.safetensors");
  const a = makeTrainer();
  for (let i = 0; i < 2; i++) await a.trainStep();
  await save(path, a);
  for (let i = 0; i < 3; i++) await a.trainStep();

  const ck = await loadCheckpoint(path);
  const b = makeTrainer(99); // other init: everything must come from the checkpoint
  loadModelWeights(b.model, ck);
  loadOptimizerState(b.optimizer, ck);
  b.step = ck.state!.step;
  b.gpuRng.setState(ck.state!.gpuRng);
  b.sampler.state = ck.state!.cropRng;
  for (let i = 0; i < 3; i++) await b.trainStep();
  const wa = await stateOf(a.model), wb = await stateOf(b.model);
  for (const [name, v] of wa) assert.deepEqual(wb.get(name), v, `${name} diverged after resume`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint of another architecture is refused with a clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-mismatch-" });
  const path = nodePath.join(dir, "checkpoint.safetensors");
  await saveCheckpoint(path, new MelVae(MODEL, 1));
  const ck = await loadCheckpoint(path);
  assert.equal(ck.train, null);
  assert.equal(ck.state, null);
  checkModelConfig(ck, { ...MODEL }); // same config: fine
  const other = { ...MODEL, channels: 7 };
  assert.throws(() => checkModelConfig(ck, other), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, new RegExp(`^${path} was saved with a different model config`));
    assert.match(e.message, /"channels":6/);
    assert.match(e.message, /"channels":7/);
    return true;
  });
  // Loading its weights into the other architecture names the file and the tensor.
  assert.throws(() => loadModelWeights(new MelVae(other, 1), ck), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.ok(e.message.startsWith(`${path}: `), e.message);
    return true;
  });
  // A weights-only checkpoint cannot restore an optimizer.
  assert.throws(
    () => loadOptimizerState(makeTrainer().optimizer, ck),
    /holds no optimizer state; cannot resume exactly/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("truncated, corrupt or foreign files are refused naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-bad-" });
  const good = nodePath.join(dir, "good.safetensors");
  await save(good, makeTrainer());
  const bytes = await Deno.readFile(good);
  const cases: [string, Uint8Array, RegExp, new (...a: never[]) => Error][] = [
    ["truncated", bytes.subarray(0, bytes.length - 100), /do not fit/, SafetensorsError],
    ["header-cut", bytes.subarray(0, 200), /runs past the end/, SafetensorsError],
    ["empty", new Uint8Array(0), /only 0 bytes/, SafetensorsError],
    [
      "foreign",
      encodeSafetensors({ tensors: new Map(), metadata: { format: "pt" } }),
      /not an audio-gen VAE checkpoint \(format "pt"\)/,
      ConfigError,
    ],
  ];
  const badJson = encodeSafetensors({
    tensors: new Map(),
    metadata: { format: CHECKPOINT_FORMAT, model_config: "{oops", training_state: "{}" },
  });
  cases.push(["bad-json", badJson, /metadata model_config is not valid JSON/, ConfigError]);
  const noModel = encodeSafetensors({
    tensors: new Map(),
    metadata: { format: CHECKPOINT_FORMAT },
  });
  cases.push(["no-model", noModel, /has no model_config/, ConfigError]);
  for (const [name, data, pattern, kind] of cases) {
    const path = nodePath.join(dir, `${name}.safetensors`);
    await Deno.writeFile(path, data);
    await assert.rejects(loadCheckpoint(path), (e: unknown) => {
      assert.ok(e instanceof kind, `${name}: ${e}`);
      assert.ok((e as Error).message.startsWith(path), `${name}: ${(e as Error).message}`);
      assert.match((e as Error).message, pattern, name);
      return true;
    });
  }
  await assert.rejects(
    loadCheckpoint(nodePath.join(dir, "missing.safetensors")),
    Deno.errors.NotFound,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint carries its replay clips (F16): names, lengths, values within half precision", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = nodePath.join(dir, "with-replay.safetensors");
    const model = new MelVae(MODEL, 3);
    await saveCheckpoint(path, model, { replay: CLIPS });
    const ckpt = await loadCheckpoint(path);
    const replay: MelClip[] | null = ckpt.replay;
    assert.ok(replay, "no replay read back");
    assert.deepEqual(replay.map((c) => [c.name, c.frames]), [["c0", 20], ["c1", 13]]);
    for (let i = 0; i < CLIPS.length; i++) {
      const want: Float32Array = CLIPS[i].mel, got: Float32Array = replay[i].mel;
      assert.equal(got.length, want.length);
      // binary16 keeps 11 significant bits: |error| ≤ 2^-11 · |value| (values here are ≤ 6).
      want.forEach((v, j) => {
        assert.ok(
          Math.abs(got[j] - v) <= Math.abs(v) * 2 ** -11 + 1e-7,
          `${i}/${j}: ${got[j]} vs ${v}`,
        );
      });
    }
    // Without replay the field is null, and the weights load as before.
    await saveCheckpoint(path, model);
    assert.equal((await loadCheckpoint(path)).replay, null);
    // Replay values and their index must agree, or the file is refused by name.
    const broken = encodeSafetensors({
      tensors: new Map([["replay.mel", {
        shape: [5, 8],
        data: new Float32Array(40),
        dtype: "F16",
      }]]),
      metadata: {
        format: CHECKPOINT_FORMAT,
        model_config: JSON.stringify(MODEL),
        replay_clips: JSON.stringify([["x", 4]]),
      },
    });
    await Deno.writeFile(path, broken);
    await assert.rejects(() => loadCheckpoint(path), /with-replay.safetensors: replay.mel \[5,8\]/);
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint written before residual blocks existed loads as the reference net", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = nodePath.join(dir, "old.safetensors");
    const model = new MelVae(MODEL, 4);
    await saveCheckpoint(path, model);
    const { tensors, metadata } = decodeOld(await Deno.readFile(path));
    const cfg = JSON.parse(metadata.model_config);
    delete cfg.residualBlocks;
    metadata.model_config = JSON.stringify(cfg);
    await Deno.writeFile(path, encodeSafetensors({ tensors, metadata }));
    const ckpt = await loadCheckpoint(path);
    assert.equal(ckpt.model.residualBlocks, 0);
    const fresh = new MelVae(ckpt.model, 5);
    loadModelWeights(fresh, ckpt);
    fresh.dispose();
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
