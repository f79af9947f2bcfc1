/**
 * Elementwise ops: every unary op and every broadcasting binary op, forward against a plain
 * float64 reference and gradient against finite differences (checkOp), on odd shapes that are
 * not multiples of the 256-wide workgroup, plus the scalar method forms and tie handling.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { assertClose, type CheckInput, checkOp, randomArray, rng, setup, size } from "../util.ts";

/** A random input of `shape` with values in [lo, hi). */
function inp(shape: number[], seed: number, lo = -1, hi = 1): CheckInput {
  return { data: randomArray(size(shape), seed, lo, hi), shape };
}

/** Random values with lo <= |x| < hi and random sign (keeps inputs away from kinks at 0). */
function awayFromZero(shape: number[], seed: number, lo: number, hi: number): CheckInput {
  const r = rng(seed);
  const data = new Float64Array(size(shape));
  for (let i = 0; i < data.length; i++) {
    const m = lo + (hi - lo) * r();
    data[i] = r() < 0.5 ? -m : m;
  }
  return { data, shape };
}

/** Values spread over [lo, hi] with the endpoints included (for saturation checks). */
function withEnds(shape: number[], seed: number, lo: number, hi: number): CheckInput {
  const x = awayFromZero(shape, seed, 0.01, Math.max(-lo, hi));
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.min(hi, Math.max(lo, x.data[i]));
  x.data[0] = lo;
  x.data[x.data.length - 1] = hi;
  return x;
}

function map(f: (v: number) => number): (x: Float64Array) => Float64Array {
  return (x) => x.map(f);
}

// ---- a precise erf for the GELU reference ----

/** erf(x) to ~1e-15: Maclaurin series for |x| < 1.5, continued fraction for erfc beyond. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 1.5) {
    // erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= -a * a / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - erfcLarge(a));
}

/** erfc(a) for a >= 1.5: e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …))))). */
function erfcLarge(a: number): number {
  let f = 0;
  for (let k = 200; k >= 1; k--) f = (k / 2) / (a + f);
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
}

const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

Deno.test("reference erf matches tabulated values", () => {
  const table: [number, number][] = [
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [2.9, 0.9999589021219005],
    [3.5, 0.9999992569016276],
    [-1.5, -0.9661051464753108],
  ];
  for (const [x, want] of table) {
    assert.ok(Math.abs(erf(x) - want) < 1e-14, `erf(${x}) = ${erf(x)}, want ${want}`);
  }
  // erfc(4) = 1.541725790028002e-8: checks the continued fraction's relative accuracy.
  assert.ok(Math.abs(erfcLarge(4) / 1.541725790028002e-8 - 1) < 1e-12);
});

// ---- unary ops ----

const SHAPES: number[][] = [[3, 5, 7], [257], [2, 1, 13]];

const UNARY_CASES: {
  name: string;
  op: (x: ag.Tensor) => ag.Tensor;
  ref: (v: number) => number;
  input: (shape: number[], seed: number) => CheckInput;
}[] = [
  { name: "neg", op: (x) => x.neg(), ref: (v) => -v, input: (s, k) => inp(s, k, -3, 3) },
  { name: "exp", op: (x) => x.exp(), ref: Math.exp, input: (s, k) => inp(s, k, -4, 4) },
  { name: "log", op: (x) => x.log(), ref: Math.log, input: (s, k) => inp(s, k, 0.05, 20) },
  { name: "sqrt", op: (x) => x.sqrt(), ref: Math.sqrt, input: (s, k) => inp(s, k, 0.05, 9) },
  {
    name: "pow 2",
    op: (x) => x.pow(2),
    ref: (v) => v ** 2,
    input: (s, k) => inp(s, k, 0.1, 3),
  },
  {
    name: "pow 3",
    op: (x) => x.pow(3),
    ref: (v) => v ** 3,
    input: (s, k) => inp(s, k, 0.1, 3),
  },
  {
    name: "pow 0.5",
    op: (x) => x.pow(0.5),
    ref: Math.sqrt,
    input: (s, k) => inp(s, k, 0.1, 5),
  },
  {
    name: "pow 3 on negatives",
    op: (x) => x.pow(3),
    ref: (v) => v ** 3,
    input: (s, k) => inp(s, k, -3, -0.1),
  },
  {
    name: "pow 2 on negatives",
    op: (x) => x.pow(2),
    ref: (v) => v ** 2,
    input: (s, k) => inp(s, k, -3, -0.1),
  },
  {
    name: "pow -2 on mixed signs",
    op: (x) => x.pow(-2),
    ref: (v) => v ** -2,
    input: (s, k) => awayFromZero(s, k, 0.5, 2),
  },
  {
    name: "square",
    op: (x) => x.square(),
    ref: (v) => v * v,
    input: (s, k) => inp(s, k, -3, 3),
  },
  {
    name: "abs",
    op: (x) => x.abs(),
    ref: Math.abs,
    input: (s, k) => awayFromZero(s, k, 0.01, 3),
  },
  {
    name: "tanh",
    op: (x) => x.tanh(),
    ref: Math.tanh,
    input: (s, k) => withEnds(s, k, -20, 20),
  },
  {
    name: "tanh small",
    op: (x) => x.tanh(),
    ref: Math.tanh,
    input: (s, k) => inp(s, k, -2, 2),
  },
  {
    name: "sigmoid",
    op: (x) => x.sigmoid(),
    ref: sigmoid,
    input: (s, k) => withEnds(s, k, -30, 30),
  },
  {
    name: "relu",
    op: (x) => x.relu(),
    ref: (v) => Math.max(v, 0),
    input: (s, k) => awayFromZero(s, k, 0.01, 3),
  },
  {
    name: "leakyRelu default",
    op: (x) => x.leakyRelu(),
    ref: (v) => (v > 0 ? v : 0.01 * v),
    input: (s, k) => awayFromZero(s, k, 0.01, 3),
  },
  {
    name: "leakyRelu 0.2",
    op: (x) => x.leakyRelu(0.2),
    ref: (v) => (v > 0 ? v : 0.2 * v),
    input: (s, k) => awayFromZero(s, k, 0.01, 3),
  },
  { name: "gelu", op: (x) => x.gelu(), ref: gelu, input: (s, k) => inp(s, k, -6, 6) },
  {
    name: "softplus",
    op: (x) => x.softplus(),
    ref: softplus,
    input: (s, k) => withEnds(s, k, -30, 30),
  },
  {
    name: "reciprocal",
    op: (x) => x.reciprocal(),
    ref: (v) => 1 / v,
    input: (s, k) => awayFromZero(s, k, 0.2, 4),
  },
  {
    name: "addScalar",
    op: (x) => x.add(2.5),
    ref: (v) => v + 2.5,
    input: (s, k) => inp(s, k),
  },
  { name: "sub number", op: (x) => x.sub(1.25), ref: (v) => v - 1.25, input: (s, k) => inp(s, k) },
  { name: "mulScalar", op: (x) => x.mul(-3), ref: (v) => -3 * v, input: (s, k) => inp(s, k) },
  { name: "div number", op: (x) => x.div(4), ref: (v) => v / 4, input: (s, k) => inp(s, k) },
  { name: "clone", op: (x) => x.clone(), ref: (v) => v, input: (s, k) => inp(s, k) },
];

for (const c of UNARY_CASES) {
  Deno.test(`unary ${c.name}`, async () => {
    await setup();
    for (const [i, shape] of SHAPES.entries()) {
      await checkOp(`${c.name} [${shape}]`, [c.input(shape, 100 + i)], c.op, map(c.ref));
    }
  });
}

Deno.test("unary ops on a 0-d tensor and on an empty tensor", async () => {
  await setup();
  await checkOp(
    "exp 0-d",
    [{ data: Float64Array.of(0.7), shape: [] }],
    (x) => x.exp(),
    map(Math.exp),
  );
  const e = ag.zeros([0, 3]).exp();
  assert.deepEqual(e.shape, [0, 3]);
  assert.equal((await e.toArray()).length, 0);
  e.dispose();
});

Deno.test("saturating ops stay finite and exact at the extremes", async () => {
  await setup();
  const xs = [-80, -30, -20, 20, 30, 80];
  const x = ag.tensor(xs, [6]);
  const th = await x.tanh().toArray();
  const sg = await x.sigmoid().toArray();
  const sp = await x.softplus().toArray();
  for (let i = 0; i < xs.length; i++) {
    assert.equal(th[i], Math.sign(xs[i]), `tanh(${xs[i]}) = ${th[i]}`);
    assert.ok(Number.isFinite(sg[i]) && sg[i] >= 0 && sg[i] <= 1, `sigmoid(${xs[i]}) = ${sg[i]}`);
    // Each element to relative 1e-4 (not only in norm): tiny softplus values feed logs.
    const want = softplus(xs[i]);
    assert.ok(
      Math.abs(sp[i] - want) <= 1e-4 * want,
      `softplus(${xs[i]}) = ${sp[i]}, want ${want}`,
    );
    const wantSig = sigmoid(xs[i]);
    assert.ok(
      Math.abs(sg[i] - wantSig) <= 1e-4 * wantSig,
      `sigmoid(${xs[i]}) = ${sg[i]}, want ${wantSig}`,
    );
  }
  x.dispose();
});

Deno.test("tanh is accurate elementwise near 0 and at moderate inputs", async () => {
  await setup();
  const xs = [1e-8, -1e-6, 1e-4, -3e-3, 0.0499, 0.0501, -0.3, 1.7, -4];
  const got = await ag.tensor(xs, [xs.length]).tanh().toArray();
  for (let i = 0; i < xs.length; i++) {
    const want = Math.tanh(Math.fround(xs[i]));
    assert.ok(
      Math.abs(got[i] - want) <= 2e-6 * Math.abs(want),
      `tanh(${xs[i]}) = ${got[i]}, want ${want}`,
    );
  }
});

Deno.test("softplus is accurate elementwise across its range", async () => {
  await setup();
  const xs = [-60, -17, -9, -3.1, -3, -2.9, -0.5, 0, 0.5, 3, 9, 17];
  const got = await ag.tensor(xs, [xs.length]).softplus().toArray();
  for (let i = 0; i < xs.length; i++) {
    const want = softplus(xs[i]);
    assert.ok(
      // GPU exp(x) may be off by (3 + 2|x|) ulp (Vulkan's bound): about 7e-6 at x = -60.
      Math.abs(got[i] - want) <= (2e-6 + (3 + 2 * Math.abs(xs[i])) * 6e-8) * want,
      `softplus(${xs[i]}) = ${got[i]}, want ${want}`,
    );
  }
});

Deno.test("gelu matches erf-based GELU elementwise (not the tanh approximation)", async () => {
  await setup();
  const xs = [-3, -1.5, -0.5, 0.25, 1, 2.5];
  const got = await ag.tensor(xs, [6]).gelu().toArray();
  for (let i = 0; i < xs.length; i++) {
    const want = gelu(xs[i]);
    // The tanh approximation is off by up to ~3e-4 here; erf GELU to f32 precision is not.
    assert.ok(Math.abs(got[i] - want) < 2e-6, `gelu(${xs[i]}) = ${got[i]}, want ${want}`);
  }
});

Deno.test("pow with a non-integer exponent of a negative base is NaN", async () => {
  await setup();
  const got = await ag.tensor([-2, 4], [2]).pow(0.5).toArray();
  assert.ok(Number.isNaN(got[0]));
  assert.equal(got[1], 2);
});

Deno.test("unary over more than 65,535 workgroups (2-D grid)", async () => {
  await setup();
  const n = 65535 * 256 + 1001;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 7919) % 1000) / 250 - 2;
  const got = await ag.tensor(data, [n]).mul(-3).toArray();
  for (let i = 0; i < n; i++) {
    if (got[i] !== Math.fround(data[i] * -3)) {
      assert.fail(`element ${i}: ${got[i]} vs ${data[i] * -3}`);
    }
  }
});

// ---- binary ops with broadcasting ----

/** Plain broadcasting reference: out[i] = f(a[ia], b[ib]). */
function broadcastRef(
  aShape: number[],
  bShape: number[],
  f: (u: number, v: number) => number,
): (a: Float64Array, b: Float64Array) => Float64Array {
  const rank = Math.max(aShape.length, bShape.length);
  const pa = [...Array(rank - aShape.length).fill(1), ...aShape];
  const pb = [...Array(rank - bShape.length).fill(1), ...bShape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  return (a, b) => {
    const out = new Float64Array(size(shape));
    const idx = new Array<number>(rank).fill(0);
    for (let i = 0; i < out.length; i++) {
      let rest = i;
      for (let k = rank - 1; k >= 0; k--) {
        idx[k] = rest % shape[k];
        rest = Math.floor(rest / shape[k]);
      }
      let ia = 0, ib = 0;
      for (let k = 0; k < rank; k++) {
        ia = ia * pa[k] + (pa[k] === 1 ? 0 : idx[k]);
        ib = ib * pb[k] + (pb[k] === 1 ? 0 : idx[k]);
      }
      out[i] = f(a[ia], b[ib]);
    }
    return out;
  };
}

const PAIRS: [number[], number[]][] = [
  [[5, 1, 7], [1, 3, 7]],
  [[4, 9], [9]],
  [[9], [4, 9]],
  [[2, 3, 4], []],
  [[], [2, 3, 4]],
  [[3, 1], [1, 5]],
  [[3, 37], [3, 37]],
  [[2, 1, 3, 1], [5, 1, 4]],
];

const BINARY_CASES: {
  name: ag.BinaryOp;
  op: (a: ag.Tensor, b: ag.Tensor) => ag.Tensor;
  ref: (u: number, v: number) => number;
  a: [number, number];
  b: [number, number];
}[] = [
  { name: "add", op: (a, b) => a.add(b), ref: (u, v) => u + v, a: [-2, 2], b: [-2, 2] },
  { name: "sub", op: (a, b) => a.sub(b), ref: (u, v) => u - v, a: [-2, 2], b: [-2, 2] },
  { name: "mul", op: (a, b) => a.mul(b), ref: (u, v) => u * v, a: [-2, 2], b: [-2, 2] },
  { name: "div", op: (a, b) => a.div(b), ref: (u, v) => u / v, a: [-2, 2], b: [0.5, 2] },
  { name: "pow", op: (a, b) => a.pow(b), ref: (u, v) => u ** v, a: [0.2, 3], b: [-1.5, 2.5] },
  { name: "maximum", op: (a, b) => a.maximum(b), ref: Math.max, a: [-2, 2], b: [-2, 2] },
  { name: "minimum", op: (a, b) => a.minimum(b), ref: Math.min, a: [-2, 2], b: [-2, 2] },
];

for (const c of BINARY_CASES) {
  Deno.test(`binary ${c.name} with broadcasting`, async () => {
    await setup();
    for (const [i, [sa, sb]] of PAIRS.entries()) {
      await checkOp(
        `${c.name} [${sa}]·[${sb}]`,
        [inp(sa, 10 + i, ...c.a), inp(sb, 50 + i, ...c.b)],
        c.op,
        broadcastRef(sa, sb, c.ref),
      );
    }
  });
}

Deno.test("div by a negative divisor and sub with swapped broadcast", async () => {
  await setup();
  await checkOp(
    "div negative divisor",
    [inp([3, 11], 1), inp([11], 2, -3, -0.5)],
    (a, b) => a.div(b),
    broadcastRef([3, 11], [11], (u, v) => u / v),
  );
  await checkOp(
    "sub [7]·[3,1]",
    [inp([7], 3), inp([3, 1], 4)],
    (a, b) => a.sub(b),
    broadcastRef([7], [3, 1], (u, v) => u - v),
  );
});

Deno.test("binary op of one tensor with itself", async () => {
  await setup();
  await checkOp("x*x", [inp([4, 6], 5, -2, 2)], (x) => x.mul(x), map((v) => v * v));
  // d(x/x)/dx = 1/x − x/x² is exactly 0, so a relative error means nothing: WGSL division may be
  // 2.5 ulp off (it is on NVIDIA), leaving ~1e-7 where the reference has 0. Check it absolutely.
  await checkOp("x/x", [inp([5], 6, 0.5, 2)], (x) => x.div(x), map(() => 1), { grad: false });
  await ag.tidy(async () => {
    const x = ag.tensor(randomArray(5, 6, 0.5, 2), [5], { requiresGrad: true });
    await x.div(x).sum().backward();
    for (const g of await x.grad!.toArray()) assert.ok(Math.abs(g) < 1e-5, `x/x gradient ${g}`);
  });
  await checkOp("x-x", [inp([5], 7)], (x) => x.sub(x), map(() => 0), { forwardTol: Infinity });
});

Deno.test("maximum/minimum split the gradient evenly on ties", async () => {
  await setup();
  await ag.tidy(async () => {
    const a = ag.tensor([1, 2, 3, -1], [4], { requiresGrad: true });
    const b = ag.tensor([1, 5, 0, -1], [4], { requiresGrad: true });
    const w = ag.tensor([1, 2, 3, 4], [4]);
    await a.maximum(b).mul(w).sum().backward();
    assert.deepEqual([...await a.grad!.toArray()], [0.5, 0, 3, 2]);
    assert.deepEqual([...await b.grad!.toArray()], [0.5, 2, 0, 2]);
    a.grad!.dispose();
    b.grad!.dispose();
    a.grad = b.grad = null;
    await a.minimum(b).mul(w).sum().backward();
    assert.deepEqual([...await a.grad!.toArray()], [0.5, 2, 0, 2]);
    assert.deepEqual([...await b.grad!.toArray()], [0.5, 0, 3, 2]);
    a.grad!.dispose();
    b.grad!.dispose();
  });
});

Deno.test("incompatible broadcast shapes throw naming both shapes", async () => {
  await setup();
  const a = ag.zeros([3, 4]);
  const b = ag.zeros([5]);
  assert.throws(() => a.add(b), /\[3,4\] and \[5\] cannot be broadcast/);
  a.dispose();
  b.dispose();
});

Deno.test("broadcast binary output is fully written (large, odd shape)", async () => {
  await setup();
  const [sa, sb] = [[513, 1, 3], [1, 129, 3]];
  const a = inp(sa, 31), b = inp(sb, 32);
  const got = await ag.tensor(Float32Array.from(a.data), sa).mul(
    ag.tensor(Float32Array.from(b.data), sb),
  ).toArray();
  const want = broadcastRef(sa, sb, (u, v) => u * v)(
    Float64Array.from(Float32Array.from(a.data)),
    Float64Array.from(Float32Array.from(b.data)),
  );
  assertClose(got, want, 1e-6, "mul [513,1,3]·[1,129,3]");
});
