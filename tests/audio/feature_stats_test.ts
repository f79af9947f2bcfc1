/**
 * audio/feature_stats.ts: per-band mean and std of binary16 features summed exactly. Checked
 * against a float64 reference written plainly here; the same values in any order, split in any
 * way and merged, give the same bits; the JSON form round-trips; a non-finite value is named.
 */
import assert from "node:assert/strict";
import { float16ToFloat32, float32ToFloat16 } from "../../engine/float16.ts";
import { BandStats } from "../../audio/feature_stats.ts";
import { rng } from "../util.ts";

/** Frames × bands binary16 values like log-mels: around −11…+6, a few tiny and subnormal. */
function halfFeatures(frames: number, nMels: number, seed: number): Uint16Array {
  const r = rng(seed);
  const values = Float32Array.from({ length: frames * nMels }, (_, i) => {
    const u = r();
    if (i % 97 === 0) return (u - 0.5) * 1e-6; // subnormal in binary16
    return -11.5 + 17 * u * u + (i % nMels) * 0.01;
  });
  return float32ToFloat16(values);
}

/** Per-band mean and std in float64, the plain way (std floored as normalizationStats does). */
function reference(bits: Uint16Array, nMels: number): { mean: number[]; std: number[] } {
  const v = float16ToFloat32(bits);
  const frames = v.length / nMels;
  const mean: number[] = [], std: number[] = [];
  for (let m = 0; m < nMels; m++) {
    let s = 0;
    for (let f = 0; f < frames; f++) s += v[f * nMels + m];
    const mu = s / frames;
    let q = 0;
    for (let f = 0; f < frames; f++) q += (v[f * nMels + m] - mu) ** 2;
    mean.push(mu);
    std.push(Math.sqrt(Math.max(q / frames, 1e-6)));
  }
  return { mean, std };
}

Deno.test("BandStats matches a float64 mean and std over every frame", () => {
  const nMels = 7, frames = 1001;
  const bits = halfFeatures(frames, nMels, 3);
  const stats = new BandStats(nMels);
  stats.addHalf(bits);
  assert.equal(stats.frames, frames);
  const { mean, std } = stats.meanStd();
  const ref = reference(bits, nMels);
  for (let m = 0; m < nMels; m++) {
    // Float32 results: within a few f32 units of the float64 reference.
    assert.ok(Math.abs(mean[m] - ref.mean[m]) <= 1e-6 * Math.abs(ref.mean[m]), `mean ${m}`);
    assert.ok(Math.abs(std[m] - ref.std[m]) <= 1e-5 * ref.std[m], `std ${m}`);
  }
  // A constant band has std at the floor, as normalizationStats gives.
  const flat = new BandStats(2);
  flat.addHalf(float32ToFloat16(new Float32Array(6).fill(2)));
  assert.deepEqual([...flat.meanStd().mean], [2, 2]);
  assert.ok(Math.abs(flat.meanStd().std[0] - 1e-3) < 1e-9);
});

Deno.test("BandStats: any order and any split, merged, give the same bits", () => {
  const nMels = 5, frames = 600;
  const bits = halfFeatures(frames, nMels, 9);
  const whole = new BandStats(nMels);
  whole.addHalf(bits);
  // Frames reversed, then cut into three uneven pieces summed separately and merged.
  const reversed = new Uint16Array(bits.length);
  for (let f = 0; f < frames; f++) {
    reversed.set(bits.subarray(f * nMels, (f + 1) * nMels), (frames - 1 - f) * nMels);
  }
  const pieces = [0, 17, 401, frames].map((f) => f * nMels);
  const merged = new BandStats(nMels);
  for (let i = 0; i < 3; i++) {
    const part = new BandStats(nMels);
    part.addHalf(reversed.subarray(pieces[i], pieces[i + 1]));
    merged.merge(BandStats.fromJSON(JSON.parse(JSON.stringify(part.toJSON())), "part"));
  }
  assert.deepEqual(merged.toJSON(), whole.toJSON());
  const a = whole.meanStd(), b = merged.meanStd();
  assert.deepEqual([...b.mean], [...a.mean]);
  assert.deepEqual([...b.std], [...a.std]);
  // A naive float32 running sum in another order does not give the same bits: the exactness
  // is doing work here.
  const naive = (order: Uint16Array) => {
    const v = float16ToFloat32(order);
    const s = new Float32Array(1);
    for (let f = 0; f < frames; f++) s[0] += v[f * nMels];
    return s[0];
  };
  assert.notEqual(naive(bits), naive(reversed));
});

Deno.test("BandStats refuses a non-finite value, a ragged block and a bad JSON form", () => {
  const s = new BandStats(2);
  assert.throws(
    () => s.addHalf(Uint16Array.from([0x3c00, 0x7c00]), "shard-1"),
    /shard-1: value 1 is not finite/,
  );
  assert.throws(
    () => s.addHalf(Uint16Array.from([0x3c00]), "shard-2"),
    /shard-2: 1 values are not whole frames of 2/,
  );
  assert.throws(
    () => BandStats.fromJSON({ nMels: 2, frames: 1, bins: [[5, 0, 1, 1, 1]] }, "idx"),
    /idx: statistics hold a bad bin/,
  );
  assert.throws(() => new BandStats(0).meanStd(), /nMels/);
  assert.throws(() => new BandStats(3).meanStd(), /no frames/);
});
