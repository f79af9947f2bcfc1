import assert from "node:assert/strict";
import * as ag from "../../engine/mod.ts";
import { DEFAULT_ADAPT, VoiceAdapter } from "../../vae/adapt.ts";
import { MelVae } from "../../vae/model.ts";
import { TINY_MODEL } from "./adapt_fixture.ts";

const cfg = { ...TINY_MODEL, channels: 16, latentDim: 4 };

function tone(seconds: number, f: number): Float32Array {
  return Float32Array.from(
    { length: seconds * 16000 },
    (_, i) => 0.3 * Math.sin(2 * Math.PI * f * i / 16000),
  );
}

Deno.test("VoiceAdapter trains only the decoder (+ chosen encoder layers) and keeps held-out aside", async () => {
  await ag.init();
  const model = new MelVae(cfg, 1);
  const encBefore = await model.encoder.layers.layers[0].namedParameters().get("weight")!.toArray();
  const ad = new VoiceAdapter(model, new MelVae(cfg, 1), [], {
    ...DEFAULT_ADAPT,
    heldOutSeconds: 2,
  });
  assert.ok([...ad.trainable.keys()].every((k) => k.startsWith("decoder.")));
  await ad.addVoiced(tone(1.5, 220));
  assert.equal(ad.pool.length, 0, "first blocks are held out");
  assert.equal(ad.heldOut.length, 1);
  await ad.addVoiced(tone(3.5, 220));
  assert.equal(ad.heldOut.length, 2);
  assert.equal(ad.pool.length, 3);
  const before = await ad.heldOutLoss();
  assert.ok(Math.abs(before.base - before.now) < 1e-6, "same weights, same loss");
  for (let i = 0; i < 15; i++) assert.ok(!(await ad.adaptStep()).skipped);
  const after = await ad.heldOutLoss();
  assert.ok(after.now < after.base, `held-out ${after.base} → ${after.now}`);
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
