/**
 * Tests for vae/trainer.ts: the VAE overfits a handful of real clips (reconstruction error falls
 * at least 5× and mel-LSD ends under 3 dB), and the non-finite rule — a step whose loss or
 * gradient is NaN/∞ leaves weights and optimizer untouched and is counted; too many in a row
 * raise NonFiniteError.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { loadCache } from "../../audio/feature_cache.ts";
import { prepare, prepareOptions } from "../../cli/prepare.ts";
import { DEFAULT_MODEL, DEFAULT_TRAIN, type TrainConfig } from "../../vae/config.ts";
import { CropSampler, type MelClip, normalizationStats } from "../../vae/data.ts";
import { MelVae } from "../../vae/model.ts";
import {
  evaluateClips,
  NonFiniteError,
  reconstructClip,
  reconstructionMse,
  VaeTrainer,
} from "../../vae/trainer.ts";
import { randomArray, setup } from "../util.ts";
import { SMALL_MODEL } from "./small_model.ts";

await setup();

const SAMPLE_DIR = new URL("../../audio/sample/en/", import.meta.url).pathname;

/** The first `n` training clips of the bundled sample, featurised into a temp cache. */
async function sampleClips(n: number): Promise<MelClip[]> {
  const out = await Deno.makeTempDir({ prefix: "trainer-cache-" });
  try {
    const opts = prepareOptions({ data: SAMPLE_DIR, out, limit: n });
    await prepare(opts);
    return await loadCache(out, opts.features);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

async function parameters(model: MelVae): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of model.namedParameters()) out.set(name, await t.toArray());
  return out;
}

Deno.test("overfits 3 sample clips: normalised MSE falls ≥ 5×, mel-LSD < 4.5 dB", async () => {
  const clips = await sampleClips(3);
  assert.equal(clips.length, 3);
  const model = new MelVae(
    { ...DEFAULT_MODEL, channels: 32, latentDim: 8, downsampleStages: 1 },
    1,
  );
  const { mean, std } = normalizationStats(clips, model.config.features.nMels);
  model.setNormalization(mean, std);
  const config: TrainConfig = {
    ...DEFAULT_TRAIN,
    steps: 1000,
    batch: 4,
    cropFrames: 32,
    lr: 2e-3,
    klWarmupSteps: 1e9, // β stays ~0: this checks capacity, not the prior
    freeBits: 0,
  };
  const sampler = new CropSampler(clips, 80, config.cropFrames, config.batch, config.seed);
  const trainer = new VaeTrainer(model, config, sampler);
  const mse0 = await reconstructionMse(model, clips);
  const eval0 = await evaluateClips(model, clips);
  const t0 = performance.now();
  let last = null;
  for (let i = 0; i < config.steps; i++) last = await trainer.trainStep();
  const seconds = (performance.now() - t0) / 1000;
  const mse1 = await reconstructionMse(model, clips);
  const eval1 = await evaluateClips(model, clips);
  console.log(
    `overfit: ${config.steps} steps in ${seconds.toFixed(1)} s; normalised MSE ${
      mse0.toFixed(4)
    } → ` +
      `${mse1.toFixed(4)} (÷${(mse0 / mse1).toFixed(1)}); mel-LSD ${eval0.melLsd.toFixed(2)} → ` +
      `${eval1.melLsd.toFixed(2)} dB; recon NLL ${eval0.recon.toFixed(2)} → ${
        eval1.recon.toFixed(2)
      }`,
  );
  assert.equal(trainer.skippedSteps, 0);
  assert.ok(last && Number.isFinite(last.loss));
  assert.ok(mse0 > 0.5, `an untrained model should not reconstruct (MSE ${mse0})`);
  assert.ok(mse0 / mse1 >= 5, `MSE only fell ${(mse0 / mse1).toFixed(2)}× (${mse0} → ${mse1})`);
  // At lr 2e-3 and batch 4 the curve still oscillates around step 1000: rounding-level changes
  // (a fused kernel, another matmul block) moved the end point by ±0.4 dB. With TARGETS.md's
  // unit-peak bands the floor sits 20–30 dB lower than with Slaney bands, so quiet bands count:
  // measured 3.52 dB (it was 2.5–3.2 under the old floor); the untrained model is near 18 dB.
  assert.ok(eval1.melLsd < 4.5, `mel-LSD ${eval1.melLsd.toFixed(2)} dB on the training clips`);
  assert.ok(eval1.melLsd < eval0.melLsd / 3, "mel-LSD barely moved");
  assert.ok(eval1.recon < eval0.recon, "the reconstruction NLL did not fall");
  assert.equal(eval1.clips, 3);
});

const TINY = SMALL_MODEL;
const CLIPS: MelClip[] = [24, 17].map((frames, i) => ({
  name: `c${i}`,
  frames,
  mel: Float32Array.from(randomArray(frames * 8, 50 + i, -6, 1)),
}));

function tinyTrainer(over: Partial<TrainConfig> = {}): VaeTrainer {
  const config = { ...DEFAULT_TRAIN, batch: 2, cropFrames: 8, lr: 1e-2, ...over };
  const model = new MelVae(TINY, 1);
  const { mean, std } = normalizationStats(CLIPS, 8);
  model.setNormalization(mean, std);
  return new VaeTrainer(model, config, new CropSampler(CLIPS, 8, 8, 2, 3));
}

Deno.test("reconstructionMse is the mean squared error of the normalised z = μ reconstruction", async () => {
  const model = tinyTrainer().model;
  const mse = await reconstructionMse(model, CLIPS);
  const { std } = normalizationStats(CLIPS, 8);
  let sum = 0, count = 0;
  for (const clip of CLIPS) {
    const { input, output, frames } = await reconstructClip(model, clip);
    assert.equal(frames, Math.floor(clip.frames / 2) * 2);
    for (let i = 0; i < input.length; i++) {
      const m = i % 8;
      sum += ((input[i] - output[i]) / std[m]) ** 2;
      count++;
    }
  }
  assert.ok(Math.abs(mse - sum / count) < 1e-4 * (sum / count), `${mse} vs ${sum / count}`);
  // A clip shorter than one latent step adds nothing; with nothing to measure the mean is NaN.
  const short = { name: "short", frames: 1, mel: CLIPS[0].mel.slice(0, 8) };
  assert.equal(await reconstructionMse(model, [...CLIPS, short]), mse);
  assert.equal(await reconstructionMse(model, [short]), NaN);
  assert.equal(await reconstructionMse(model, []), NaN);
});

Deno.test("a non-finite loss or gradient skips the step: weights and optimizer unchanged", async () => {
  const trainer = tinyTrainer();
  const poison = new Map<number, (loss: ag.Tensor) => ag.Tensor>([
    [1, (l) => l.mul(NaN)],
    [2, (l) => l.add(-1e9).log()], // log of a negative number
    [3, (l) => l.mul(Infinity)],
    // Finite loss, non-finite gradient: d√s/ds at s = 0 is ∞ (and ∞ · 0 = NaN).
    [4, (l) => l.add(trainer.model.logScale.mul(0).sqrt())],
  ]);
  trainer.lossHook = (loss) => poison.get(trainer.step)?.(loss) ?? loss;
  const first = await trainer.trainStep();
  assert.equal(first.skipped, false);
  const before = await parameters(trainer.model);
  const optBefore = trainer.optimizer.state();
  const stepsBefore = new Map([...optBefore.params].map(([n, p]) => [n, p.step]));
  for (let s = 1; s <= 4; s++) {
    const st = await trainer.trainStep();
    assert.equal(st.skipped, true, `step ${s} was not skipped`);
    assert.equal(st.step, s + 1);
    if (s < 4) assert.ok(!Number.isFinite(st.loss), `step ${s} loss ${st.loss}`);
    else {assert.ok(
        Number.isFinite(st.loss) && !Number.isFinite(st.gradNorm),
        `step 4 ${st.gradNorm}`,
      );}
  }
  assert.equal(trainer.skippedSteps, 4);
  assert.equal(trainer.step, 5);
  const after = await parameters(trainer.model);
  for (const [name, v] of before) {
    assert.deepEqual(after.get(name), v, `${name} changed on a skipped step`);
  }
  for (const [name, p] of trainer.optimizer.state().params) {
    assert.equal(p.step, stepsBefore.get(name), `${name}: optimizer step count advanced`);
  }
  // No gradients are left behind to leak into the next step.
  assert.ok(trainer.model.parameters().every((p) => !p.grad), "gradients kept after a skip");
  // The next good step trains again, from finite weights.
  const good = await trainer.trainStep();
  assert.equal(good.skipped, false);
  assert.ok(Number.isFinite(good.loss));
  const moved = await parameters(trainer.model);
  const w = "encoder.layers.0.weight";
  assert.notDeepEqual(moved.get(w), before.get(w));
  for (const [name, v] of moved) assert.ok(v.every(Number.isFinite), `${name} not finite`);
  assert.equal(trainer.skippedSteps, 4);
});

Deno.test("maxNonFiniteSteps in a row raises NonFiniteError; a good step resets the count", async () => {
  const trainer = tinyTrainer({ maxNonFiniteSteps: 3 });
  const bad = new Set([0, 1, 3, 4, 6, 7, 8, 9]);
  trainer.lossHook = (loss) => bad.has(trainer.step) ? loss.mul(NaN) : loss;
  const skipped: boolean[] = [];
  // Steps 0–1 bad, 2 good, 3–4 bad, 5 good: never 3 in a row.
  for (let i = 0; i < 6; i++) skipped.push((await trainer.trainStep()).skipped);
  assert.deepEqual(skipped, [true, true, false, true, true, false]);
  await trainer.trainStep(); // step 6: 1st in a row
  await trainer.trainStep(); // step 7: 2nd
  await assert.rejects(trainer.trainStep(), (e: unknown) => {
    assert.ok(e instanceof NonFiniteError, String(e));
    assert.match(e.message, /stopped at step 9: 3 steps in a row had a non-finite loss/);
    return true;
  });
  assert.equal(trainer.skippedSteps, 7);
});

Deno.test("a poisoned step is skipped on the GPU without a readback; deferred reads change nothing", async () => {
  const bad = new Set([2, 4]);
  const deferred = tinyTrainer();
  deferred.lossHook = (loss) => bad.has(deferred.step) ? loss.mul(NaN) : loss;
  await deferred.recordStep();
  await deferred.recordStep();
  assert.equal((await deferred.readStats()).skipped, 0);
  const before = await parameters(deferred.model);
  const reads = ag.counters().readbacks;
  const dispatches = ag.counters().dispatches;
  await deferred.recordStep(); // step 2: NaN loss
  assert.equal(ag.counters().readbacks, reads, "recording a step read something back");
  assert.ok(ag.counters().dispatches > dispatches + 20, "the step was not recorded");
  const after = await parameters(deferred.model);
  for (const [name, v] of before) assert.deepEqual(after.get(name), v, `${name} changed`);
  const r = await deferred.readStats();
  assert.deepEqual([r.steps, r.skipped, r.step], [1, 1, 3]);
  assert.ok(
    Number.isNaN(r.loss) && Number.isNaN(r.last.loss),
    "an all-skipped interval has no mean",
  );
  assert.equal(deferred.optimizer.state().params.get("encoder.layers.0.weight")!.step, 2);
  // Three more steps, one poisoned, and no read until the end.
  const reads2 = ag.counters().readbacks;
  for (let i = 0; i < 3; i++) await deferred.recordStep();
  assert.equal(ag.counters().readbacks, reads2);
  const r2 = await deferred.readStats();
  assert.deepEqual([r2.steps, r2.skipped, r2.step], [3, 1, 6]);
  assert.ok(Number.isFinite(r2.loss) && Number.isFinite(r2.gradNorm));
  assert.equal(deferred.skippedSteps, 2);
  for (const p of deferred.optimizer.state().params.values()) assert.equal(p.step, 4);

  // The same steps read one by one end in the same weights, bit for bit.
  const eager = tinyTrainer();
  eager.lossHook = (loss) => bad.has(eager.step) ? loss.mul(NaN) : loss;
  const skipped: boolean[] = [];
  for (let i = 0; i < 6; i++) skipped.push((await eager.trainStep()).skipped);
  assert.deepEqual(skipped, [false, false, true, false, true, false]);
  const a = await parameters(deferred.model), b = await parameters(eager.model);
  for (const [name, v] of a) assert.deepEqual(b.get(name), v, `${name} differs`);
});

Deno.test("a stop reached between reads is reported at its own step, with the weights of then", async () => {
  const trainer = tinyTrainer({ maxNonFiniteSteps: 3 });
  trainer.lossHook = (loss) => trainer.step >= 1 && trainer.step <= 3 ? loss.mul(NaN) : loss;
  await trainer.recordStep(); // step 0: good
  await trainer.readStats();
  const good = await parameters(trainer.model);
  // Steps 1..3 NaN: the 3rd in a row stops the run; the good steps 4..7 must then change nothing.
  for (let i = 0; i < 7; i++) await trainer.recordStep();
  await assert.rejects(trainer.readStats(), (e: unknown) => {
    assert.ok(e instanceof NonFiniteError, String(e));
    assert.match(e.message, /stopped at step 4: 3 steps in a row/);
    return true;
  });
  assert.equal(trainer.step, 4);
  assert.equal(trainer.skippedSteps, 3);
  const after = await parameters(trainer.model);
  for (const [name, v] of good) assert.deepEqual(after.get(name), v, `${name} changed`);
  for (const p of trainer.optimizer.state().params.values()) assert.equal(p.step, 1);
});
