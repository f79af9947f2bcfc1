/**
 * Seeded random tensors: distribution statistics of randn and rand, the [low, high) contract
 * (including the rounding corner at the top of the range), reproducibility from a seed or a
 * Generator's saved state, and independence of successive draws.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { setup } from "../util.ts";

const N = 100_000;

function stats(x: Float32Array) {
  let s = 0, s2 = 0, s3 = 0, s4 = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  for (const v of x) {
    const d = v - mean;
    s2 += d * d;
    s3 += d * d * d;
    s4 += d * d * d * d;
  }
  const variance = s2 / x.length;
  const std = Math.sqrt(variance);
  return {
    mean,
    std,
    skew: s3 / x.length / std ** 3,
    kurtosis: s4 / x.length / variance ** 2,
    min: Math.min(...x),
    max: Math.max(...x),
  };
}

function fraction(x: Float32Array, pred: (v: number) => boolean): number {
  let n = 0;
  for (const v of x) if (pred(v)) n++;
  return n / x.length;
}

async function draw(t: ag.Tensor): Promise<Float32Array> {
  const a = await t.toArray();
  t.dispose();
  return a;
}

Deno.test("randn: mean ≈ 0, std ≈ 1, normal shape over 1e5 samples", async () => {
  await setup();
  const x = await draw(ag.randn([N], { seed: 11 }));
  assert.ok(x.every(Number.isFinite), "randn produced a non-finite value");
  const s = stats(x);
  // Standard errors at 1e5 samples: mean 0.003, std 0.0022, skew 0.008, kurtosis 0.015.
  assert.ok(Math.abs(s.mean) < 0.02, `mean ${s.mean}`);
  assert.ok(Math.abs(s.std - 1) < 0.02, `std ${s.std}`);
  assert.ok(Math.abs(s.skew) < 0.05, `skew ${s.skew}`);
  assert.ok(Math.abs(s.kurtosis - 3) < 0.1, `kurtosis ${s.kurtosis}`);
  assert.ok(Math.abs(fraction(x, (v) => Math.abs(v) < 1) - 0.6827) < 0.01, "P(|x| < 1)");
  assert.ok(Math.abs(fraction(x, (v) => Math.abs(v) < 2) - 0.9545) < 0.005, "P(|x| < 2)");
  assert.ok(s.max > 3.5 && s.min < -3.5, `tails reach ±3.5: [${s.min}, ${s.max}]`);
});

Deno.test("randn with mean and std options", async () => {
  await setup();
  const x = await draw(ag.randn([N], { seed: 12, mean: -3, std: 0.25 }));
  const s = stats(x);
  assert.ok(Math.abs(s.mean + 3) < 0.005, `mean ${s.mean}`);
  assert.ok(Math.abs(s.std - 0.25) < 0.005, `std ${s.std}`);
});

Deno.test("rand: uniform in [low, high) with the right moments", async () => {
  await setup();
  for (const [low, high] of [[0, 1], [-3, 5], [10, 10.5]]) {
    const x = await draw(
      low === 0 && high === 1 ? ag.rand([N], { seed: 13 }) : ag.rand([N], { seed: 13, low, high }),
    );
    const s = stats(x);
    const w = high - low;
    assert.ok(s.min >= low && s.max < high, `[${s.min}, ${s.max}] outside [${low}, ${high})`);
    assert.ok(s.min < low + 1e-3 * w && s.max > high - 1e-3 * w, "range not covered");
    assert.ok(Math.abs(s.mean - (low + high) / 2) < 0.01 * w, `mean ${s.mean}`);
    assert.ok(Math.abs(s.std - w / Math.sqrt(12)) < 0.01 * w, `std ${s.std}`);
    // Ten equal bins hold about N/10 each (standard error ~95).
    const bins = new Array<number>(10).fill(0);
    for (const v of x) bins[Math.min(9, Math.floor(((v - low) / w) * 10))]++;
    for (const b of bins) assert.ok(Math.abs(b - N / 10) < 600, `bins ${bins}`);
  }
});

// ---- the top of the range ----

// A CPU port of the documented hash (shaders/random.wgsl), used only to find the counters whose
// hash is the largest possible value: the draws that could round up to `high`.
function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}
function hash2(counter: number, seed: number): number {
  return pcg((pcg((pcg(counter) ^ seed) >>> 0) + seed) >>> 0);
}

Deno.test("rand never returns high, even for the largest hash value", async () => {
  await setup();
  const seed = 7;
  // Counters whose hash has all of its top 23 bits set (the largest uniforms), both odd and
  // even ones, so whichever counter an element maps to is covered.
  const counters: number[] = [];
  for (let c = 0; c < 1 << 26 && (counters.length < 6); c++) {
    if (hash2(c, seed) >>> 9 === 0x7fffff) counters.push(c);
  }
  assert.ok(counters.some((c) => c % 2 === 0) && counters.some((c) => c % 2 === 1));
  const offsets = new Set<number>();
  for (const c of counters) {
    offsets.add(c);
    if (c % 2 === 0) offsets.add(c / 2);
  }
  let hits = 0;
  for (const offset of offsets) {
    const g = new ag.Generator(seed, offset);
    const [u] = await draw(ag.rand([1], { generator: g }));
    const [v] = await draw(
      ag.rand([1], { generator: new ag.Generator(seed, offset), low: 0, high: 3 }),
    );
    assert.ok(u >= 0 && u < 1, `rand at offset ${offset} = ${u}`);
    assert.ok(v >= 0 && v < 3, `rand [0, 3) at offset ${offset} = ${v}`);
    if (u > 0.9999) hits++;
  }
  assert.ok(hits > 0, "no offset reached the top of the range: the search does not test it");
});

Deno.test("rand stays below high when the range is narrow relative to its values", async () => {
  await setup();
  const low = 1, high = 1 + 2 ** -20; // eight f32 steps wide: rounding lands on high often
  const x = await draw(ag.rand([10000], { seed: 5, low, high }));
  const top = Math.fround(high);
  for (const v of x) assert.ok(v >= low && v < top, `${v} outside [${low}, ${top})`);
});

// ---- reproducibility ----

Deno.test("same seed gives the same values; different seeds differ", async () => {
  await setup();
  const a = await draw(ag.randn([1000], { seed: 42 }));
  const b = await draw(ag.randn([1000], { seed: 42 }));
  const c = await draw(ag.randn([1000], { seed: 43 }));
  assert.deepEqual(a, b);
  assert.ok(a.some((v, i) => v !== c[i]), "seeds 42 and 43 gave the same draw");
  const u1 = await draw(ag.rand([3, 7], { seed: 9, low: -2, high: 2 }));
  const u2 = await draw(ag.rand([3, 7], { seed: 9, low: -2, high: 2 }));
  assert.deepEqual(u1, u2);
});

Deno.test("different offsets give different values; a generator advances", async () => {
  await setup();
  const a = await draw(ag.rand([500], { generator: new ag.Generator(3, 0) }));
  const b = await draw(ag.rand([500], { generator: new ag.Generator(3, 1000) }));
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  assert.ok(same < 5, `${same} equal values at offsets 0 and 1000`);
  const g = new ag.Generator(3);
  const first = await draw(ag.randn([200], { generator: g }));
  assert.equal(g.offset, 200, "a draw of 200 advances the offset by 200");
  const second = await draw(ag.randn([200], { generator: g }));
  assert.ok(first.some((v, i) => v !== second[i]), "successive draws repeated");
});

Deno.test("successive draws of different kinds are independent (no shared counters)", async () => {
  await setup();
  const g = new ag.Generator(21);
  const before = await draw(ag.rand([64], { generator: g }));
  const z = await draw(ag.randn([64], { generator: g }));
  const u = await draw(ag.rand([256], { generator: g }));
  const all = new Set<number>([...before, ...u]);
  assert.equal(all.size, before.length + u.length, "a uniform value repeated across draws");
  // No later uniform pair may reproduce a normal value by Box–Muller: that would mean the
  // uniform draw reused the normal draw's counters.
  for (const zi of z) {
    for (let j = 0; j + 1 < u.length; j++) {
      const bm = Math.sqrt(-2 * Math.log(u[j])) * Math.cos(2 * Math.PI * u[j + 1]);
      assert.ok(Math.abs(bm - zi) > 1e-6 || Math.abs(zi) < 1e-3, `normal ${zi} = BM(u${j})`);
    }
  }
});

Deno.test("Generator state save/restore reproduces the stream", async () => {
  await setup();
  const g = new ag.Generator(1234);
  await draw(ag.randn([77], { generator: g }));
  const saved = g.state();
  const next1 = await draw(ag.randn([300], { generator: g }));
  const next2 = await draw(ag.rand([50], { generator: g, low: -1, high: 1 }));
  // A fresh generator restored from the saved state (e.g. a checkpoint as JSON).
  const h = new ag.Generator();
  h.setState(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual(await draw(ag.randn([300], { generator: h })), next1);
  assert.deepEqual(await draw(ag.rand([50], { generator: h, low: -1, high: 1 })), next2);
  assert.deepEqual(h.state(), g.state());
});

Deno.test("manualSeed resets the default stream", async () => {
  await setup();
  ag.manualSeed(99);
  const a = await draw(ag.randn([128]));
  const a2 = await draw(ag.randn([128]));
  ag.manualSeed(99);
  assert.deepEqual(await draw(ag.randn([128])), a);
  assert.deepEqual(await draw(ag.randn([128])), a2);
  assert.equal(ag.defaultGenerator.state().seed, 99);
});

Deno.test("random tensors: shapes, requiresGrad, empty and 0-d", async () => {
  await setup();
  const x = ag.randn([3, 5, 7], { seed: 1, requiresGrad: true });
  assert.deepEqual(x.shape, [3, 5, 7]);
  assert.equal(x.requiresGrad, true);
  const vals = await draw(x);
  assert.ok(vals.every(Number.isFinite));
  const e = ag.rand([0, 4], { seed: 1 });
  assert.deepEqual(e.shape, [0, 4]);
  assert.equal((await draw(e)).length, 0);
  const s = ag.rand([], { seed: 2 });
  assert.deepEqual(s.shape, []);
  const v = await s.item();
  assert.ok(v >= 0 && v < 1);
  s.dispose();
});

Deno.test("randn over more than 65,535 workgroups fills every element", async () => {
  await setup();
  const n = 65535 * 256 + 513;
  const x = await draw(ag.randn([n], { seed: 77 }));
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i])) assert.fail(`element ${i} is ${x[i]}`);
    sum += x[i];
  }
  assert.ok(Math.abs(sum / n) < 0.002, `mean ${sum / n}`);
  assert.ok(Math.abs(x[n - 1]) < 10 && x[n - 1] !== x[n - 2]);
});
