import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { DEFAULT_VOCODER } from "../../vocoder/config.ts";
import { Vocoder } from "../../vocoder/model.ts";
import { setup } from "../util.ts";

const SMALL = { ...DEFAULT_VOCODER, channels: 16, intermediate: 48, layers: 2 };

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
