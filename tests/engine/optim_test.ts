import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { assertClose, randomArray, setup } from "../util.ts";

const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

/** Plain float64 Adam / AdamW, written out as in the PyTorch docs. */
function adamReference(
  p: Float64Array,
  m: Float64Array,
  v: Float64Array,
  g: Float64Array,
  t: number,
  o: { lr: number; beta1: number; beta2: number; eps: number; wd: number; decoupled: boolean },
): void {
  for (let i = 0; i < p.length; i++) {
    let gi = g[i];
    if (o.decoupled) p[i] *= 1 - o.lr * o.wd;
    else gi += o.wd * p[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
    const mHat = m[i] / (1 - o.beta1 ** t);
    const vHat = v[i] / (1 - o.beta2 ** t);
    p[i] -= o.lr * mHat / (Math.sqrt(vHat) + o.eps);
  }
}

function sub(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (x, i) => x - b[i]);
}

for (const decoupled of [false, true]) {
  for (const wd of [0, 0.1]) {
    const name = `${decoupled ? "AdamW" : "Adam"} weightDecay=${wd}`;
    Deno.test(`${name} matches a float64 reference over 6 steps, odd sizes`, async () => {
      await setup();
      const sizes = [1, 37, 1000, 4099];
      const o = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-8, wd, decoupled };
      const init = sizes.map((n, k) => f32(randomArray(n, 10 + k, -2, 2)));
      const params = init.map((d, k) => ag.tensor(Float32Array.from(d), [sizes[k]]).keep());
      for (const p of params) p.requiresGrad = true;
      const Opt = decoupled ? ag.AdamW : ag.Adam;
      const opt = new Opt(params, {
        lr: o.lr,
        betas: [o.beta1, o.beta2],
        eps: o.eps,
        weightDecay: wd,
      });
      const ref = init.map((d) => ({
        p: d.slice(),
        m: new Float64Array(d.length),
        v: new Float64Array(d.length),
      }));
      for (let t = 1; t <= 6; t++) {
        params.forEach((p, k) => {
          // Gradients of mixed scales, so that m/√v is not just ±1.
          const g = f32(randomArray(sizes[k], 100 * t + k).map((x, i) => x * (1 + (i % 7))));
          p.grad = ag.tensor(Float32Array.from(g), p.shape).keep();
          adamReference(ref[k].p, ref[k].m, ref[k].v, g, t, o);
        });
        opt.step();
        opt.zeroGrad();
        assert.ok(params.every((p) => p.grad === null));
      }
      const state = opt.state();
      for (let k = 0; k < sizes.length; k++) {
        const got = await params[k].toArray();
        // Compare the change, so that f32 rounding of the parameter itself is not hidden.
        assertClose(
          sub(got, init[k]),
          sub(ref[k].p, init[k]),
          1e-4,
          `${name} n=${sizes[k]} Δparam`,
        );
        const s = state.params.get(String(k))!;
        assert.equal(s.step, 6);
        assertClose(await s.expAvg.toArray(), ref[k].m, 1e-5, `${name} n=${sizes[k]} m`);
        assertClose(await s.expAvgSq.toArray(), ref[k].v, 1e-5, `${name} n=${sizes[k]} v`);
      }
      opt.dispose();
      for (const p of params) p.dispose();
    });
  }
}

Deno.test("gated AdamW: a step applies only where the gate is 1, counted on the GPU", async () => {
  await setup();
  // Gates 1, 0, 1, 1, 0, 1 against the float64 reference stepped only on the 1s: the skipped
  // steps change nothing (not even the step counts that set the bias corrections, which the
  // gated kernel computes itself as −expm1(t·ln β)), and a step whose gradient is NaN is safe.
  const gates = [1, 0, 1, 1, 0, 1];
  const sizes = [3, 1030];
  const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.05, decoupled: true };
  const init = sizes.map((n, k) => f32(randomArray(n, 20 + k, -2, 2)));
  const params = init.map((d, k) => ag.tensor(Float32Array.from(d), [sizes[k]]).keep());
  for (const p of params) p.requiresGrad = true;
  const opt = new ag.AdamW(params, { lr: o.lr, betas: [o.beta1, o.beta2], weightDecay: o.wd });
  const ref = init.map((d) => ({
    p: d.slice(),
    m: new Float64Array(d.length),
    v: new Float64Array(d.length),
  }));
  let t = 0;
  const reads = ag.counters().readbacks;
  for (const [i, on] of gates.entries()) {
    if (on) t++;
    params.forEach((p, k) => {
      const g = f32(randomArray(sizes[k], 300 + 10 * i + k).map((x, j) => x * (1 + (j % 5))));
      // A skipped step's gradient may be anything, NaN included.
      p.grad = ag.tensor(Float32Array.from(on ? g : g.map(() => NaN)), p.shape).keep();
      if (on) adamReference(ref[k].p, ref[k].m, ref[k].v, g, t, o);
    });
    const gate = ag.tensor([on], [1]);
    opt.step({ gate });
    opt.zeroGrad();
    gate.dispose();
  }
  assert.equal(ag.counters().readbacks, reads, "a gated step read something back");
  assert.throws(() => opt.state(), /await syncSteps\(\) first/);
  assert.throws(() => opt.step(), /await syncSteps\(\) first/);
  await opt.syncSteps();
  const state = opt.state();
  for (let k = 0; k < sizes.length; k++) {
    const got = await params[k].toArray();
    assertClose(sub(got, init[k]), sub(ref[k].p, init[k]), 1e-4, `n=${sizes[k]} Δparam`);
    const s = state.params.get(String(k))!;
    assert.equal(s.step, 4);
    assertClose(await s.expAvg.toArray(), ref[k].m, 1e-5, `n=${sizes[k]} m`);
    assertClose(await s.expAvgSq.toArray(), ref[k].v, 1e-5, `n=${sizes[k]} v`);
  }
  // Ungated steps continue from the synced counts, and gated ones after them from theirs.
  for (const on of [null, 1]) {
    t++;
    params.forEach((p, k) => {
      const g = f32(randomArray(sizes[k], 900 + t + k));
      p.grad = ag.tensor(Float32Array.from(g), p.shape).keep();
      adamReference(ref[k].p, ref[k].m, ref[k].v, g, t, o);
    });
    const gate = on === null ? undefined : ag.tensor([on], [1]);
    opt.step({ gate });
    opt.zeroGrad();
    gate?.dispose();
  }
  await opt.syncSteps();
  for (let k = 0; k < sizes.length; k++) {
    const got = await params[k].toArray();
    assertClose(sub(got, init[k]), sub(ref[k].p, init[k]), 1e-4, `n=${sizes[k]} Δparam, later`);
    assert.equal(opt.state().params.get(String(k))!.step, 6);
  }
  opt.dispose();
  for (const p of params) p.dispose();
});

Deno.test("AdamW state round trip: a restored optimizer continues exactly", async () => {
  await setup();
  const n = 333;
  const mk = () => {
    const p = ag.tensor(Float32Array.from(randomArray(n, 5)), [n], { requiresGrad: true }).keep();
    return p;
  };
  const a = mk(), b = mk();
  const optA = new ag.AdamW(new Map([["w", a]]), { lr: 0.05, weightDecay: 0.2 });
  const grad = (t: number) => ag.tensor(Float32Array.from(randomArray(n, 50 + t)), [n]).keep();
  for (let t = 0; t < 3; t++) {
    a.grad = grad(t);
    optA.step();
    optA.zeroGrad();
  }
  // b takes a's values and a's optimizer state, then both take the same steps.
  ag.tensor(await a.toArray(), [n]); // (exercise readback before copying)
  b.grad = null;
  const optB = new ag.AdamW(new Map([["w", b]]), { lr: 1, weightDecay: 0 });
  optB.loadState(optA.state());
  assert.equal(optB.lr, 0.05);
  assert.equal(optB.weightDecay, 0.2);
  assert.equal(optB.state().params.get("w")!.step, 3);
  ag.rt().copy(a.buffer, 0, b.buffer, 0, n * 4);
  // Loading an optimizer's own state is a no-op, not a use-after-free.
  optA.loadState(optA.state());
  for (let t = 3; t < 5; t++) {
    a.grad = grad(t);
    b.grad = grad(t);
    optA.step();
    optB.step();
    optA.zeroGrad();
    optB.zeroGrad();
  }
  assert.deepEqual(await b.toArray(), await a.toArray());
  const bad = optA.state();
  bad.params.set("nope", bad.params.get("w")!);
  assert.throws(() => optB.loadState(bad), /unknown parameter nope/);
  const wrong = ag.zeros([n + 1]);
  const badShape = optA.state();
  badShape.params.set("w", { step: 1, expAvg: wrong, expAvgSq: wrong });
  assert.throws(() => optB.loadState(badShape), /w\.expAvg is \[334\], parameter is \[333\]/);
  optA.dispose();
  optB.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("Adam skips parameters without a gradient and refuses ones without requiresGrad", async () => {
  await setup();
  const p = ag.tensor([1, 2, 3], [3], { requiresGrad: true });
  const q = ag.tensor([4, 5], [2], { requiresGrad: true });
  const opt = new ag.Adam([p, q], { lr: 0.1 });
  q.grad = ag.tensor([1, -1], [2]);
  opt.step();
  assert.deepEqual([...await p.toArray()], [1, 2, 3]);
  assertClose(await q.toArray(), [3.9, 5.1], 1e-6, "q after one step");
  assert.equal(opt.state().params.has("0"), false);
  assert.throws(() => new ag.Adam([ag.zeros([2])]), /0 does not require grad/);
});

Deno.test("clipGradNorm matches a reference, on the GPU", async () => {
  await setup();
  // 70,000 elements spread one tensor over several workgroups.
  const sizes = [1, 37, 4099, 70000];
  const grads = sizes.map((n, k) => f32(randomArray(n, 200 + k)));
  let sq = 0;
  for (const g of grads) for (const x of g) sq += x * x;
  const total = Math.sqrt(sq);
  for (const maxNorm of [total / 3, total * 2]) {
    const params = sizes.map((n) => ag.zeros([n], { requiresGrad: true }));
    params.forEach((p, k) => p.grad = ag.tensor(Float32Array.from(grads[k]), [sizes[k]]));
    // A parameter without a gradient is ignored.
    const extra = ag.zeros([5], { requiresGrad: true });
    const before = ag.counters().readbacks;
    const norm = ag.clipGradNorm([...params, extra], maxNorm);
    assert.equal(ag.counters().readbacks, before, "clipGradNorm read back from the GPU");
    assert.deepEqual(norm.shape, []);
    assert.ok(
      Math.abs(await norm.item() - total) / total < 1e-5,
      `norm ${await norm.item()} vs ${total}`,
    );
    const c = Math.min(1, maxNorm / (total + 1e-6));
    for (let k = 0; k < sizes.length; k++) {
      assertClose(await params[k].grad!.toArray(), grads[k].map((x) => x * c), 1e-5, `grad ${k}`);
    }
  }
  // No gradients at all: norm 0.
  assert.equal(await ag.clipGradNorm([ag.zeros([3], { requiresGrad: true })], 1).item(), 0);
  assert.throws(() => ag.clipGradNorm([], 0), /maxNorm 0 must be positive/);
});
