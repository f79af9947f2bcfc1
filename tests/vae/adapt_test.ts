/**
 * Tests for vae/adapt.ts: the adapter trains only the decoder (and the chosen encoder layers),
 * keeps the newest seconds aside, and measurably improves on them: the held-out material is a
 * sentence of the new speaker it never trained on (the pretrained tiny model of adapt_fixture.ts,
 * adapted to speaker 6 of the sample). Crops that do not fit a block are refused.
 */
import assert from "node:assert/strict";
import * as ag from "../../engine/mod.ts";
import { LogMel } from "../../audio/features.ts";
import { concatSamples } from "../../audio/samples.ts";
import { adaptationLr, DEFAULT_ADAPT, melClip, VoiceAdapter } from "../../vae/adapt.ts";
import { DEFAULT_TRAIN } from "../../vae/config.ts";
import { loadModel } from "../../vae/checkpoint.ts";
import { MelVae } from "../../vae/model.ts";
import { relError } from "../util.ts";
import { clipAudio, pretrainedCheckpoint, splitClips, TINY_MODEL } from "./adapt_fixture.ts";

const cfg = { ...TINY_MODEL, channels: 16, latentDim: 4 };

function tone(seconds: number, f: number): Float32Array {
  return Float32Array.from(
    { length: seconds * 16000 },
    (_, i) => 0.3 * Math.sin(2 * Math.PI * f * i / 16000),
  );
}

Deno.test("VoiceAdapter trains only the decoder (+ chosen encoder layers); it improves on held-out speech it never trained on", async () => {
  await ag.init();
  // Speaker 6 of the sample: three sentences to learn from (cut to whole 1 s blocks), then 2 s
  // of a fourth sentence, which as the newest 2 s is held out and never trained on.
  const speaker6 = (await splitClips("test")).slice(0, 4);
  const learn = concatSamples(await Promise.all(speaker6.slice(0, 3).map(clipAudio)));
  const heldOutAudio = (await clipAudio(speaker6[3])).slice(0, 2 * 16000);
  // The tiny model pretrained on speakers 1–4; speaker 6 is new to it.
  const { path } = await pretrainedCheckpoint();
  const { model } = await loadModel(path);
  const { model: base } = await loadModel(path);
  const encBefore = await model.encoder.layers.layers[0].namedParameters().get("weight")!.toArray();
  const ad = new VoiceAdapter(model, base, [], { ...DEFAULT_ADAPT, heldOutSeconds: 2 });
  assert.ok([...ad.trainable.keys()].every((k) => k.startsWith("decoder.")));
  await ad.addVoiced(learn.slice(0, 1.5 * 16000));
  assert.equal(ad.pool.length, 0, "first blocks are held out");
  assert.equal(ad.heldOut.length, 1);
  const blocks = Math.floor(learn.length / 16000);
  await ad.addVoiced(learn.slice(1.5 * 16000, blocks * 16000));
  await ad.addVoiced(heldOutAudio);
  assert.equal(ad.heldOut.length, 2);
  assert.equal(ad.pool.length, blocks);
  // The held-out blocks are the fourth sentence's features, the pool the first three's.
  const logMel = new LogMel(TINY_MODEL.features);
  const expected = await melClip(logMel, heldOutAudio.slice(0, 16000), "x");
  logMel.dispose();
  assert.ok(relError(ad.heldOut[0].mel, expected.mel) < 1e-5, "held-out block 1 is sentence 4");
  const before = await ad.heldOutLoss();
  assert.ok(Math.abs(before.base - before.now) < 1e-6, "same weights, same loss");
  for (let i = 0; i < 30; i++) assert.ok(!(await ad.adaptStep()).skipped);
  const after = await ad.heldOutLoss();
  console.log(`held-out error of another sentence: ${after.base} → ${after.now}`);
  assert.ok(after.base === before.base, "the base model's error is fixed");
  assert.ok(
    after.now < 0.8 * after.base,
    `held-out (another sentence): ${after.base} → ${after.now}, not 20 % better`,
  );
  const encAfter = await model.encoder.layers.layers[0].namedParameters().get("weight")!.toArray();
  assert.deepEqual(encAfter, encBefore, "frozen encoder unchanged");
  ad.dispose();

  const m2 = new MelVae(cfg, 1);
  const ad2 = new VoiceAdapter(m2, null, [], { ...DEFAULT_ADAPT, encoderLayers: 1 });
  const last = m2.encoder.layers.layers.length - 1;
  assert.ok(ad2.trainable.has(`encoder.layers.${last}.weight`));
  assert.ok(!ad2.trainable.has("encoder.layers.0.weight"));
  await ad2.addVoiced(tone(5, 300));
  assert.ok(!(await ad2.adaptStep()).skipped);
  ad2.dispose();
});

Deno.test("VoiceAdapter refuses crops that do not fit a block", () => {
  assert.throws(
    () => new VoiceAdapter(new MelVae(cfg, 1), null, [], { ...DEFAULT_ADAPT, cropFrames: 50 }),
    /multiple of 4/,
  );
  assert.throws(
    () => new VoiceAdapter(new MelVae(cfg, 1), null, [], { ...DEFAULT_ADAPT, blockSeconds: 0.5 }),
    /fewer than cropFrames/,
  );
});

Deno.test("adaptationLr: the rate the base's training ended with, never above the default", () => {
  assert.equal(adaptationLr(null), DEFAULT_ADAPT.lr);
  // A constant schedule ends where it started; capped at the default.
  assert.equal(
    adaptationLr({ ...DEFAULT_TRAIN, lr: 2e-3, lrSchedule: "constant" }),
    DEFAULT_ADAPT.lr,
  );
  assert.equal(adaptationLr({ ...DEFAULT_TRAIN, lr: 5e-4, lrSchedule: "constant" }), 5e-4);
  // The shipped base's recipe: cosine from 1e-3 down to 1e-4 at its last step.
  const cosine = { ...DEFAULT_TRAIN, lr: 1e-3, lrSchedule: "cosine" as const, steps: 5000 };
  assert.ok(Math.abs(adaptationLr(cosine) - 1e-4) < 1e-12, `${adaptationLr(cosine)}`);
});
