import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { DEFAULT_VOCODER } from "../../vocoder/config.ts";
import { PRIOR_POWER_FLOOR, Vocoder } from "../../vocoder/model.ts";
import { LogMel } from "../../audio/features.ts";
import { melPseudoInverse } from "../../audio/vocoder.ts";
import { setup } from "../util.ts";

const SMALL = {
  ...DEFAULT_VOCODER,
  channels: 16,
  intermediate: 48,
  layers: 2,
  magnitudePrior: false,
};

Deno.test("vocoder: T frames → (T − 1)·hop samples, or the clip's own length", async () => {
  await setup();
  const v = new Vocoder(SMALL);
  await ag.tidy(async () => {
    const mel = ag.randn([2, 80, 9], { seed: 1 });
    assert.deepEqual(v.synthesize(mel).shape, [2, 8 * 256]);
    const y = v.synthesize(mel, 8 * 256 + 200);
    assert.deepEqual(y.shape, [2, 8 * 256 + 200]);
    assert.ok((await y.toArray()).every(Number.isFinite));
    assert.throws(() => v.synthesize(mel, 9 * 256), /give 10 frames, not 9/);
    assert.throws(() => v.synthesize(ag.randn([2, 9, 80])), /is not \[batch, 80, frames\]/);
  });
  v.dispose();
});

Deno.test("vocoder: the spectrogram's magnitude is exp of the head's log-magnitude", async () => {
  await setup();
  const v = new Vocoder(SMALL, 3);
  await ag.tidy(async () => {
    const mel = ag.randn([1, 80, 5], { seed: 2 });
    const spec = v.spectrogram(mel); // [1, 5, 513, 2]
    assert.deepEqual(spec.shape, [1, 5, 513, 2]);
    const h0 = v.embedNorm.forward(
      v.embed.forward(mel.sub(v.melMean).div(v.melStd)).transpose(1, 2),
    );
    let h = h0;
    for (const b of v.blocks) h = b.forward(h);
    const head = await v.head.forward(v.finalNorm.forward(h)).toArray(); // [1, 5, 3·513]
    const s = await spec.toArray();
    for (const i of [0, 7, 512, 1000, 2564]) {
      const mag = Math.hypot(s[2 * i], s[2 * i + 1]);
      const want = Math.exp(Math.min(head[3 * i], DEFAULT_VOCODER.maxLogMagnitude));
      assert.ok(Math.abs(mag - want) <= 1e-4 * want, `bin ${i}: |X| ${mag} vs ${want}`);
    }
  });
  v.dispose();
});

Deno.test("vocoder: parameter names are stable (checkpoints depend on them)", async () => {
  await setup();
  const v = new Vocoder(SMALL);
  const names = [...v.stateDict().keys()];
  assert.deepEqual(names.slice(0, 4), [
    "embed.weight",
    "embed.bias",
    "embed_norm.weight",
    "embed_norm.bias",
  ]);
  assert.ok(names.includes("block1.dwconv.weight") && names.includes("block1.gamma"));
  assert.ok(names.includes("mel_mean") && names.includes("head.weight"));
  assert.equal(v.parameterCount(), v.parameters().reduce((s, p) => s + p.size, 0));
  v.dispose();
});

Deno.test("vocoder with the magnitude prior: an untrained head gives the pseudo-inverse magnitude", async () => {
  await setup();
  const v = new Vocoder({ ...SMALL, magnitudePrior: true }, 5);
  const features = DEFAULT_VOCODER.features;
  await ag.tidy(async () => {
    // A clip's own log-mel (not noise): bands with real power, some near the floor.
    const x = ag.tensor(
      Float32Array.from(
        { length: 4096 },
        (_, i) => 0.3 * Math.sin(0.07 * i) + 0.1 * Math.sin(0.9 * i),
      ),
      [1, 4096],
    );
    const logMel = new LogMel(features);
    const mel = logMel.forward(x); // [1, 80, 17]
    const spec = await v.spectrogram(mel).toArray();
    // The prior, computed here from the definitions: pinv · max(e^logmel − floor, 0), ½·log.
    const pinv = melPseudoInverse(features); // [513, 80]
    const m = await mel.toArray();
    const frames = mel.shape[2];
    for (const [t, k] of [[0, 3], [5, 28], [9, 100], [16, 400]]) {
      let p = 0;
      for (let b = 0; b < 80; b++) {
        p += pinv[k * 80 + b] * Math.max(Math.exp(m[b * frames + t]) - features.logFloor, 0);
      }
      const want = Math.sqrt(Math.max(p, 0) + PRIOR_POWER_FLOOR);
      const i = t * 513 + k;
      const got = Math.hypot(spec[2 * i], spec[2 * i + 1]);
      assert.ok(
        Math.abs(got - want) <= 1e-3 * want + 1e-6,
        `frame ${t} bin ${k}: |X| ${got} vs ${want}`,
      );
    }
    logMel.dispose();
  });
  v.dispose();
});
