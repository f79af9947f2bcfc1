/**
 * Tests for vae/model.ts and vae/data.ts: shapes through encoder and decoder for several
 * downsampling depths, the parameter count of the reference architecture, seeded init,
 * normalisation, the learned-vs-fixed likelihood scale; normalisation statistics against
 * float64, crop sampling (real windows, padding, seeded and resumable from its state).
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { DEFAULT_FEATURES } from "../../audio/features.ts";
import { DEFAULT_MODEL, type ModelConfig } from "../../vae/config.ts";
import {
  CropSampler,
  type MelClip,
  mulberry32Next,
  normalizationStats,
  writeCropChannelsFirst,
} from "../../vae/data.ts";
import { MelVae } from "../../vae/model.ts";
import { assertClose, randomArray, rng, setup } from "../util.ts";

await setup();

function tiny(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    ...DEFAULT_MODEL,
    features: { ...DEFAULT_FEATURES, nMels: 6 },
    channels: 4,
    latentDim: 3,
    edgeKernel: 3,
    ...over,
  };
}

async function weights(model: MelVae): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of model.stateDict()) out.set(name, await t.toArray());
  return out;
}

Deno.test("encoder and decoder shapes for 0, 1 and 2 downsampling stages", () => {
  for (const stages of [0, 1, 2]) {
    const model = new MelVae(tiny({ downsampleStages: stages }), 1);
    assert.equal(model.hopFactor, 2 ** stages);
    const [mu, lv, xHat, zHat] = ag.tidy(() => {
      const x = ag.randn([2, 6, 16], { seed: 2 });
      const { mu, logvar } = model.encoder.encode(x);
      const xHat = model.decoder.forward(mu);
      const zHat = model.decoder.forward(ag.randn([1, 3, 5], { seed: 3 }));
      return [mu.shape, logvar.shape, xHat.shape, zHat.shape];
    });
    const steps = 16 / 2 ** stages;
    assert.deepEqual(mu, [2, 3, steps], `μ with ${stages} stages`);
    assert.deepEqual(lv, [2, 3, steps], `log σ² with ${stages} stages`);
    assert.deepEqual(xHat, [2, 6, 16], `x̂ with ${stages} stages`);
    // Any latent length decodes to 2^stages frames per latent step.
    assert.deepEqual(zHat, [1, 6, 5 * 2 ** stages]);
    model.dispose();
  }
});

Deno.test("the reference architecture has the documented 1.33 M parameters", () => {
  const model = new MelVae(DEFAULT_MODEL, 1);
  const { channels: c, latentDim: l, edgeKernel: k, downsampleStages: s } = DEFAULT_MODEL;
  const n = DEFAULT_MODEL.features.nMels;
  const expected = (n * c * k + c) + s * (c * c * 4 + c) + (c * 2 * l * 3 + 2 * l) + // encoder
    (l * c * 3 + c) + s * (c * c * 4 + c) + (c * n * k + n) + // decoder
    1; // log_scale
  const count = model.parameters().reduce((t, p) => t + p.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(count, expected);
  assert.ok(Math.abs(count - 1.33e6) < 0.01e6, `${count} parameters`);
  model.dispose();
});

Deno.test("names: parameters, buffers and the learned or fixed log-scale", () => {
  const learned = new MelVae(tiny({ learnScale: true }), 1);
  const fixed = new MelVae(tiny({ learnScale: false }), 1);
  assert.ok(learned.namedParameters().has("log_scale"));
  assert.ok(!fixed.namedParameters().has("log_scale"));
  assert.ok(fixed.namedBuffers().has("log_scale"));
  for (const m of [learned, fixed]) {
    const names = [...m.stateDict().keys()];
    for (const b of ["mel_mean", "mel_std", "log_scale"]) assert.ok(names.includes(b), b);
    assert.ok(names.some((n) => n.startsWith("encoder.layers.")));
    assert.ok(names.some((n) => n.startsWith("decoder.layers.")));
    // Normalisation statistics are never trained.
    assert.ok(!m.namedParameters().has("mel_mean") && !m.namedParameters().has("mel_std"));
  }
  learned.dispose();
  fixed.dispose();
});

Deno.test("the seed fixes the initial weights", async () => {
  const a = await weights(new MelVae(tiny(), 5));
  const b = await weights(new MelVae(tiny(), 5));
  const c = await weights(new MelVae(tiny(), 6));
  for (const [name, v] of a) assert.deepEqual(v, b.get(name), name);
  const w = "encoder.layers.0.weight";
  assert.ok(a.has(w), [...a.keys()].join(", "));
  assert.notDeepEqual(a.get(w), c.get(w));
});

Deno.test("normalize / denormalize use the per-band statistics and invert each other", async () => {
  const model = new MelVae(tiny(), 1);
  const mean = Float32Array.of(-3, -2, -1, 0, 1, 2), std = Float32Array.of(1, 2, 0.5, 4, 1, 3);
  model.setNormalization(mean, std);
  const x = Float32Array.from(randomArray(6 * 4, 1, -10, 5));
  const [norm, back] = await ag.tidy(async () => {
    const t = ag.tensor(x, [1, 6, 4]);
    const n = model.normalize(t);
    return [await n.toArray(), await model.denormalize(n).toArray()];
  });
  const ref = Float64Array.from(
    x,
    (v, i) => (v - mean[Math.floor(i / 4)]) / std[Math.floor(i / 4)],
  );
  assertClose(norm, ref, 1e-6, "normalize");
  assertClose(back, x, 1e-6, "denormalize ∘ normalize");
  assert.deepEqual(await model.melMean.toArray(), mean);
  assert.deepEqual(await model.melStd.toArray(), std);
});

function randomClips(seed: number, nMels: number, lengths: number[]): MelClip[] {
  return lengths.map((frames, i) => ({
    name: `clip${i}`,
    frames,
    mel: Float32Array.from(randomArray(frames * nMels, seed + i, -8, 2)),
  }));
}

Deno.test("normalizationStats matches a float64 mean and std over all frames", () => {
  const clips = randomClips(10, 5, [7, 3, 12]);
  const { mean, std } = normalizationStats(clips, 5);
  for (let m = 0; m < 5; m++) {
    const vals = clips.flatMap((c) => Array.from({ length: c.frames }, (_, f) => c.mel[f * 5 + m]));
    const mu = vals.reduce((a, b) => a + b, 0) / vals.length;
    const sd = Math.sqrt(vals.reduce((a, b) => a + (b - mu) ** 2, 0) / vals.length);
    assert.ok(Math.abs(mean[m] - mu) < 1e-5, `mean band ${m}`);
    assert.ok(Math.abs(std[m] - sd) < 1e-4, `std band ${m}: ${std[m]} vs ${sd}`);
  }
  // A constant band gets a small positive std instead of 0 (no division by zero).
  const flat = normalizationStats([{ name: "c", frames: 3, mel: new Float32Array(6).fill(2) }], 2);
  assert.ok(flat.std.every((s) => s > 0 && s < 0.01), `${flat.std}`);
  assert.throws(() => normalizationStats([], 5), /no frames/);
});

Deno.test("mulberry32Next gives mulberry32's stream (reference values of the C original)", () => {
  // Tommy Ettinger's mulberry32 in C, seeded with 42, first four outputs (u32), computed apart
  // from this code (Python, 32-bit masked arithmetic).
  const reference = [2581720956, 1925393290, 3661312704, 2876485805];
  let s = 42;
  for (const want of reference) {
    const [u, next] = mulberry32Next(s);
    s = next;
    assert.equal(u * 2 ** 32, want);
  }
  // The tests' rng and the benches' inputs are this stream.
  const r = rng(42);
  assert.deepEqual(reference.map(() => r() * 2 ** 32), reference);
});

Deno.test("writeCropChannelsFirst transposes a window and pads past the end with the floor", () => {
  const nMels = 3;
  const clip = {
    name: "c",
    frames: 4,
    mel: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1),
  };
  const out = new Float32Array(2 + nMels * 3).fill(NaN);
  writeCropChannelsFirst(clip, nMels, 1, 3, out, 2);
  // frames 1..3 → [band][t]
  assert.deepEqual([...out.subarray(2)], [4, 7, 10, 5, 8, 11, 6, 9, -1]);
  assert.ok(Number.isNaN(out[0]) && Number.isNaN(out[1]), "wrote before its offset");
  const padded = new Float32Array(nMels * 3);
  writeCropChannelsFirst(clip, nMels, 2, 3, padded, 0);
  assert.deepEqual([...padded], [7, 10, -1, 8, 11, -1, 9, -1, -1]);
});

Deno.test("CropSampler draws real windows, is seeded, and resumes from its state", () => {
  const nMels = 4, crop = 5, batch = 3;
  const clips = randomClips(20, nMels, [9, 30, 5, 3]);
  const a = new CropSampler(clips, nMels, crop, batch, 7);
  const b = new CropSampler(clips, nMels, crop, batch, 7);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const x = a.next();
    assert.deepEqual(x, b.next(), "same seed, different batch");
    assert.equal(x.length, batch * nMels * crop);
    for (let r = 0; r < batch; r++) {
      const row = x.subarray(r * nMels * crop, (r + 1) * nMels * crop);
      // Every row is some clip's window (padded with its floor when the clip is short).
      let found = false;
      for (const c of clips) {
        for (let s = 0; s <= Math.max(0, c.frames - crop); s++) {
          const ref = new Float32Array(nMels * crop);
          writeCropChannelsFirst(c, nMels, s, crop, ref, 0);
          if (ref.every((v, j) => v === row[j])) {
            found = true;
            seen.add(`${c.name}@${s}`);
          }
        }
      }
      assert.ok(found, `batch ${i} row ${r} is not a window of any clip`);
    }
  }
  assert.ok(seen.size > 10, `only ${seen.size} distinct windows in 60 draws`);
  // Saving and restoring the one-integer state continues the same stream.
  const saved = a.state;
  const expected = [a.next(), a.next()];
  const c = new CropSampler(clips, nMels, crop, batch, 999);
  c.state = saved;
  assert.deepEqual([c.next(), c.next()], expected);
  assert.notDeepEqual(new CropSampler(clips, nMels, crop, batch, 8).next(), b.next());
  assert.throws(() => new CropSampler([], nMels, crop, batch, 1), /no clips/);
});
