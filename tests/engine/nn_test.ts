import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { erf } from "../../engine/ops/float64_math.ts";
import { assertClose, checkOp, randomArray, setup } from "../util.ts";

/** y[r, o] = Σ_i x[r, i] w[o, i] + b[o], in float64. */
function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, inF: number) {
  const rows = x.length / inF, outF = w.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

/** Normalises consecutive runs of `groupSize` values (biased variance), in float64. */
function normalizeRuns(x: Float64Array, groupSize: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let s = 0; s < x.length; s += groupSize) {
    let mean = 0;
    for (let i = 0; i < groupSize; i++) mean += x[s + i];
    mean /= groupSize;
    let variance = 0;
    for (let i = 0; i < groupSize; i++) variance += (x[s + i] - mean) ** 2;
    variance /= groupSize;
    for (let i = 0; i < groupSize; i++) y[s + i] = (x[s + i] - mean) / Math.sqrt(variance + eps);
  }
  return y;
}

const input = (shape: number[], seed: number, lo = -1, hi = 1) => ({
  data: randomArray(shape.reduce((a, b) => a * b, 1), seed, lo, hi),
  shape,
});

Deno.test("linear forward and gradients (batch axes, odd sizes)", async () => {
  await setup();
  const [inF, outF] = [13, 7];
  await checkOp(
    "linear",
    [input([2, 3, inF], 1), input([outF, inF], 2), input([outF], 3)],
    (x, w, b) => ag.linear(x, w, b),
    (x, w, b) => linearRef(x, w, b, inF),
  );
  await checkOp(
    "linear without bias",
    [input([5, inF], 4), input([outF, inF], 5)],
    (x, w) => ag.linear(x, w),
    (x, w) => linearRef(x, w, null, inF),
  );
});

Deno.test("Linear: PyTorch init bounds, seeded, forward = linear(x, weight, bias)", async () => {
  await setup();
  const fc = new ag.Linear(50, 9, { seed: 3 });
  assert.deepEqual([...fc.namedParameters().keys()], ["weight", "bias"]);
  assert.deepEqual(fc.weight.shape, [9, 50]);
  assert.ok(fc.weight.requiresGrad && fc.bias!.requiresGrad);
  const w = await fc.weight.toArray();
  const bound = 1 / Math.sqrt(50);
  assert.ok(w.every((v) => Math.abs(v) <= bound), "weights outside ±1/√in");
  assert.ok(Math.max(...w) > 0.8 * bound && Math.min(...w) < -0.8 * bound, "weights not spread");
  assert.deepEqual(await new ag.Linear(50, 9, { seed: 3 }).weight.toArray(), w, "same seed");
  assert.notDeepEqual(await new ag.Linear(50, 9, { seed: 4 }).weight.toArray(), w);
  assert.equal(new ag.Linear(4, 2, { bias: false }).bias, null);
  const x = randomArray(3 * 50, 8);
  const y = await fc.forward(ag.tensor(Float32Array.from(x), [3, 50])).toArray();
  const ref = linearRef(x, Float64Array.from(w), Float64Array.from(await fc.bias!.toArray()), 50);
  assertClose(y, ref, 1e-5, "Linear.forward");
});

Deno.test("layerNorm forward and gradients vs float64 reference", async () => {
  await setup();
  const shape = [3, 5, 7];
  const eps = 1e-5;
  await checkOp(
    "layerNorm over the last axis",
    [input(shape, 11, -2, 3), input([7], 12), input([7], 13)],
    (x, w, b) => ag.layerNorm(x, [7], w, b, eps),
    (x, w, b) => {
      const y = normalizeRuns(x, 7, eps);
      return y.map((v, i) => v * w[i % 7] + b[i % 7]);
    },
    { gradTol: 2e-3 },
  );
  await checkOp(
    "layerNorm over the last two axes",
    [input(shape, 14, -1, 2)],
    (x) => ag.layerNorm(x, [5, 7], null, null, eps),
    (x) => normalizeRuns(x, 35, eps),
    { gradTol: 2e-3 },
  );
  const ln = new ag.LayerNorm(7);
  assert.deepEqual([...ln.namedParameters().keys()], ["weight", "bias"]);
  assert.deepEqual([...await ln.weight!.toArray()], new Array(7).fill(1));
  assert.throws(() => ln.forward(ag.zeros([2, 6])), /does not end in \[7\]/);
});

Deno.test("groupNorm forward and gradients vs float64 reference", async () => {
  await setup();
  const [n, c, l, groups] = [2, 6, 5, 3];
  const eps = 1e-5;
  await checkOp(
    "groupNorm",
    [input([n, c, l], 21, -2, 3), input([c], 22), input([c], 23)],
    (x, w, b) => ag.groupNorm(x, groups, w, b, eps),
    (x, w, b) => {
      const y = normalizeRuns(x, (c / groups) * l, eps);
      return y.map((v, i) => {
        const ch = Math.floor(i / l) % c;
        return v * w[ch] + b[ch];
      });
    },
    { gradTol: 2e-3 },
  );
  const gn = new ag.GroupNorm(2, 4);
  const x = randomArray(2 * 4 * 3 * 2, 24);
  const y = await gn.forward(ag.tensor(Float32Array.from(x), [2, 4, 3, 2])).toArray();
  assertClose(y, normalizeRuns(x, 12, 1e-5), 1e-5, "GroupNorm on [N, C, H, W]");
  assert.throws(() => new ag.GroupNorm(3, 4), /4 channels do not split into 3 groups/);
});

Deno.test("activations match their ops", async () => {
  await setup();
  const x = ag.tensor(Float32Array.from(randomArray(50, 31, -3, 3)), [5, 10]);
  const xs = await x.toArray();
  const cases: [ag.Module, (v: number) => number][] = [
    [new ag.ReLU(), (v) => Math.max(v, 0)],
    [new ag.Tanh(), Math.tanh],
    [new ag.Sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
    [new ag.LeakyReLU(0.2), (v) => (v > 0 ? v : 0.2 * v)],
    // The exact erf form, not the tanh approximation (off by up to 3e-4: it fails 1e-5).
    [new ag.GELU(), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
  ];
  for (const [m, f] of cases) {
    assertClose(await m.forward(x).toArray(), xs.map(f), 1e-5, m.constructor.name);
    assert.equal(m.parameters().length, 0);
  }
});

class Autoencoder extends ag.Module {
  readonly encoder = this.registerModule(
    "encoder",
    new ag.Sequential(new ag.Linear(6, 4, { seed: 1 }), new ag.GELU(), new ag.LayerNorm(4)),
  );
  readonly decoder = this.registerModule("decoder", new ag.Linear(4, 6, { seed: 2 }));
  override forward(x: ag.Tensor): ag.Tensor {
    return this.decoder.forward(this.encoder.forward(x));
  }
}

Deno.test("Module: dotted names, train/eval, stateDict round trip", async () => {
  await setup();
  const a = new Autoencoder();
  assert.deepEqual([...a.namedParameters().keys()], [
    "encoder.0.weight",
    "encoder.0.bias",
    "encoder.2.weight",
    "encoder.2.bias",
    "decoder.weight",
    "decoder.bias",
  ]);
  assert.equal(a.parameters().length, 6);
  assert.ok(a.training && a.encoder.layers[1].training);
  a.eval();
  assert.ok(!a.training && !a.encoder.layers[1].training);
  a.train();
  assert.ok(a.encoder.layers[2].training);

  const b = new Autoencoder();
  // Different weights before loading (b's decoder drew from the same seed: perturb it).
  ag.noGrad(() =>
    ag.rt().copy(ag.randn([6, 4], { seed: 9 }).buffer, 0, b.decoder.weight.buffer, 0, 96)
  );
  const x = ag.tensor(Float32Array.from(randomArray(18, 41)), [3, 6]);
  assert.notDeepEqual(await b.forward(x).toArray(), await a.forward(x).toArray());
  const bWeight = b.decoder.weight;
  const result = b.loadStateDict(a.stateDict());
  assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
  assert.equal(b.decoder.weight, bWeight, "loading copies in place");
  assert.deepEqual(await b.forward(x).toArray(), await a.forward(x).toArray());
  // A plain object works too, and the loaded values are independent copies.
  b.loadStateDict(Object.fromEntries(a.stateDict()));
  assert.notEqual(b.decoder.weight.buffer, a.decoder.weight.buffer);
});

Deno.test("Module.loadStateDict names mismatched keys and shapes, and loads nothing", async () => {
  await setup();
  const model = new Autoencoder();
  const before = await model.decoder.bias!.toArray();
  const state = new Map(new Autoencoder().stateDict());
  const good = state.get("decoder.bias")!;
  state.set("decoder.bias", ag.randn([6], { seed: 5 }));
  state.set("encoder.0.weight", ag.zeros([4, 7]));
  assert.throws(
    () => model.loadStateDict(state),
    /size mismatch for encoder\.0\.weight: checkpoint \[4,7\], model \[4,6\].*nothing was loaded/,
  );
  assert.deepEqual(await model.decoder.bias!.toArray(), before, "partial load happened");

  state.set("encoder.0.weight", model.encoder.layers[0].parameters()[0]);
  state.delete("decoder.weight");
  state.set("decoder.extra", good);
  assert.throws(
    () => model.loadStateDict(state),
    /missing keys: decoder\.weight; unexpected keys: decoder\.extra/,
  );
  const res = model.loadStateDict(state, { strict: false });
  assert.deepEqual(res, { missingKeys: ["decoder.weight"], unexpectedKeys: ["decoder.extra"] });
  assertClose(
    await model.decoder.bias!.toArray(),
    await state.get("decoder.bias")!.toArray(),
    1e-7,
    "non-strict load",
  );
  // Shape mismatches are refused even when not strict.
  state.set("decoder.bias", ag.zeros([5]));
  assert.throws(() => model.loadStateDict(state, { strict: false }), /decoder\.bias/);
});

Deno.test("Module registration refuses duplicate and dotted names", async () => {
  await setup();
  class Bad extends ag.Module {
    constructor(name: string) {
      super();
      this.registerParameter("w", ag.zeros([1]));
      this.registerParameter(name, ag.zeros([1]));
    }
  }
  assert.throws(() => new Bad("w"), /'w' is already registered/);
  assert.throws(() => new Bad("a.b"), /invalid name 'a\.b'/);
  assert.throws(() => new ag.Module().forward(ag.zeros([1])), /does not implement forward/);
});

Deno.test("parameters survive tidy; grads are kept and zeroGrad frees them", async () => {
  await setup();
  const fc = await ag.tidy(() => new ag.Linear(3, 2, { seed: 1 }));
  ag.tidy(() => {
    fc.forward(ag.randn([4, 3], { seed: 2 })).sum().backward();
  });
  assert.ok(!fc.weight.isDisposed);
  const g = fc.weight.grad!;
  assert.ok(g && !g.isDisposed);
  fc.zeroGrad();
  assert.ok(g.isDisposed && fc.weight.grad === null);
  fc.dispose();
  assert.ok(fc.weight.isDisposed);
});

Deno.test("conv layers: PyTorch weight layouts, init bounds, output shapes", async () => {
  await setup();
  const c1 = new ag.Conv1d(6, 4, 3, { padding: 1, groups: 2, seed: 1 });
  assert.deepEqual(c1.weight.shape, [4, 3, 3]);
  const bound1 = 1 / Math.sqrt(3 * 3);
  assert.ok((await c1.weight.toArray()).every((v) => Math.abs(v) <= bound1));
  const x1 = ag.randn([2, 6, 9], { seed: 2 });
  assert.deepEqual(c1.forward(x1).shape, [2, 4, 9]);
  assert.deepEqual(
    await c1.forward(x1).toArray(),
    await ag.conv1d(x1, c1.weight, c1.bias, { padding: 1, groups: 2 }).toArray(),
  );
  const t1 = new ag.ConvTranspose1d(4, 6, 4, { stride: 2, padding: 1, seed: 3 });
  assert.deepEqual(t1.weight.shape, [4, 6, 4]);
  assert.deepEqual(t1.bias!.shape, [6]);
  assert.ok((await t1.weight.toArray()).every((v) => Math.abs(v) <= 1 / Math.sqrt(24)));
  assert.deepEqual(t1.forward(ag.randn([2, 4, 5], { seed: 4 })).shape, [2, 6, 10]);
  const c2 = new ag.Conv2d(2, 3, [3, 1], { stride: [2, 1], padding: [1, 0], bias: false });
  assert.deepEqual(c2.weight.shape, [3, 2, 3, 1]);
  assert.equal(c2.bias, null);
  assert.deepEqual([...c2.namedParameters().keys()], ["weight"]);
  assert.deepEqual(c2.forward(ag.randn([1, 2, 8, 5], { seed: 5 })).shape, [1, 3, 4, 5]);
  assert.throws(() => new ag.Conv1d(6, 5, 3, { groups: 2 }), /divide into 2 groups/);
});
