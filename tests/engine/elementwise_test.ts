/**
 * Elementwise ops, generated from the op table (engine/ops/elementwise_table.ts): for every
 * unary and binary entry and each of its test domains, through its Tensor method, the forward
 * against the entry's float64 reference and the gradient against central finite differences of
 * it (checkOp); the gradient against the entry's float64 derivative; and that derivative against
 * finite differences of the forward reference — on odd shapes that are not multiples of the
 * 256-wide workgroup, and broadcast pairs for binary ops. A new entry is tested by construction.
 * Then what the table cannot say: accuracy at the extremes, ties, 0-d and empty tensors, the
 * 2-D grid, and the errors.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import type { BinaryOpSpec, Domain, UnaryOpSpec } from "../../engine/ops/elementwise_table.ts";
import { assertClose, type CheckInput, checkOp, randomArray, rng, setup, size } from "../util.ts";

/**
 * `size(shape)` values from `domain`, both outer endpoints included (saturation, kinks); from
 * its points equally often when it is only points.
 */
function sample(domain: Domain, shape: number[], seed: number): CheckInput {
  const r = rng(seed);
  const lengths = domain.map(([lo, hi]) => hi - lo);
  const total = lengths.reduce((s, l) => s + l, 0);
  const data = new Float64Array(size(shape));
  for (let i = 0; i < data.length; i++) {
    if (total === 0) {
      data[i] = domain[Math.floor(r() * domain.length)][0];
      continue;
    }
    let u = r() * total, k = 0;
    while (k < domain.length - 1 && u > lengths[k]) u -= lengths[k++];
    data[i] = domain[k][0] + u;
  }
  data[0] = domain[0][0];
  if (data.length > 1) data[data.length - 1] = domain[domain.length - 1][1];
  return { data, shape };
}

function domainName(domain: Domain): string {
  if (domain.every(([lo, hi]) => lo === hi)) return `{${domain.map(([v]) => v).join(", ")}}`;
  return domain.map(([lo, hi]) => `[${lo}, ${hi}]`).join("∪");
}

/** Central differences of `f` at each of `xs`, with a step relative to |x|. */
function centralDifferences(f: (v: number) => number, xs: Float64Array): Float64Array {
  return xs.map((v) => {
    const h = 1e-6 * Math.max(1, Math.abs(v));
    return (f(v + h) - f(v - h)) / (2 * h);
  });
}

/** The Tensor method `name` of `t`, called with `args`. */
function callMethod(t: ag.Tensor, name: string, ...args: unknown[]): ag.Tensor {
  const method = (t as unknown as Record<string, (...a: unknown[]) => ag.Tensor>)[name];
  assert.equal(typeof method, "function", `Tensor has no method ${name}`);
  return method.apply(t, args);
}

const SHAPES: number[][] = [[3, 5, 7], [257], [2, 1, 13]];

// ---- unary ops, one test per table entry and domain ----

for (const [op, spec] of Object.entries(ag.UNARY_OPS) as [ag.UnaryOp, UnaryOpSpec][]) {
  for (const [k, c] of spec.tests.entries()) {
    const alpha = c.alpha ?? spec.alpha?.default;
    const alphaName = alpha === undefined ? "" : ` ${spec.alpha!.name} ${alpha}`;
    Deno.test(`unary ${op} on ${domainName(c.x)}${alphaName}`, async () => {
      await setup();
      if (spec.alpha && alpha === undefined) assert.fail(`the table tests ${op} without alpha`);
      const a = alpha ?? 0;
      // Through the method where there is one (the default alpha when the case gives none).
      const method = spec.method;
      const run = method === false
        ? (x: ag.Tensor) => ag.unary(op, x, alpha)
        : (x: ag.Tensor) => callMethod(x, method ?? op, ...(c.alpha === undefined ? [] : [a]));
      const f = (v: number) => spec.forward.f64(v, a);
      const df = (v: number) => spec.derivative.f64(v, a);
      for (const [i, shape] of SHAPES.entries()) {
        const name = `${op}${alphaName} [${shape}]`;
        const x = sample(c.x, shape, 100 * k + i);
        await checkOp(name, [x], run, (xs) => xs.map(f));
        const xs = Float64Array.from(Float32Array.from(x.data));
        // The table's derivative is the derivative of its forward.
        assertClose(xs.map(df), centralDifferences(f, xs), 1e-6, `${name}: reference f'`);
        // The kernel's gradient is the table's derivative, to f32 accuracy.
        await ag.tidy(async () => {
          const w = randomArray(xs.length, 7 + i);
          const xt = ag.tensor(Float32Array.from(xs), shape, { requiresGrad: true });
          run(xt).backward(ag.tensor(Float32Array.from(w), shape));
          const want = xs.map((v, j) => w[j] * df(v));
          assertClose(await xt.grad!.toArray(), want, 1e-4, `${name}: gradient vs f'`);
        });
      }
    });
  }
}

Deno.test("square (pow 2) and the number forms of add, sub, mul, div, pow", async () => {
  await setup();
  const x = sample([[-3, 3]], [4, 9], 5);
  await checkOp("square", [x], (t) => t.square(), (v) => v.map((u) => u * u));
  const positive = sample([[0.2, 3]], [4, 9], 6);
  // Each binary op with a scalar form, against the op's own reference with b = the number.
  for (const [op, spec] of Object.entries(ag.BINARY_OPS) as [ag.BinaryOp, BinaryOpSpec][]) {
    if (!spec.scalar) continue;
    for (const s of [-1.25, 2.5]) {
      await checkOp(
        `${op}(${s})`,
        [op === "pow" ? positive : x],
        (t) => callMethod(t, op, s),
        (v) => v.map((u) => spec.forward.f64(u, s)),
      );
    }
  }
});

Deno.test("unary ops on a 0-d tensor and on an empty tensor", async () => {
  await setup();
  await checkOp(
    "exp 0-d",
    [{ data: Float64Array.of(0.7), shape: [] }],
    (x) => x.exp(),
    (x) => x.map(Math.exp),
  );
  const e = ag.zeros([0, 3]).exp();
  assert.deepEqual(e.shape, [0, 3]);
  assert.equal((await e.toArray()).length, 0);
  e.dispose();
});

const { sigmoid, softplus, gelu } = {
  sigmoid: (v: number) => ag.UNARY_OPS.sigmoid.forward.f64(v),
  softplus: (v: number) => ag.UNARY_OPS.softplus.forward.f64(v),
  gelu: (v: number) => ag.UNARY_OPS.gelu.forward.f64(v),
};

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

// ---- binary ops with broadcasting, one test per table entry and domain pair ----

/** For each element i of the broadcast output, the elements ia[i] of a and ib[i] of b it reads. */
function broadcastIndex(aShape: number[], bShape: number[]) {
  const rank = Math.max(aShape.length, bShape.length);
  const pa = [...Array(rank - aShape.length).fill(1), ...aShape];
  const pb = [...Array(rank - bShape.length).fill(1), ...bShape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const ia = new Int32Array(size(shape)), ib = new Int32Array(size(shape));
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < ia.length; i++) {
    let rest = i;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k] = rest % shape[k];
      rest = Math.floor(rest / shape[k]);
    }
    for (let k = 0; k < rank; k++) {
      ia[i] = ia[i] * pa[k] + (pa[k] === 1 ? 0 : idx[k]);
      ib[i] = ib[i] * pb[k] + (pb[k] === 1 ? 0 : idx[k]);
    }
  }
  return { shape, ia, ib };
}

/** Plain broadcasting reference: out[i] = f(a[ia], b[ib]). */
function broadcastRef(
  aShape: number[],
  bShape: number[],
  f: (u: number, v: number) => number,
): (a: Float64Array, b: Float64Array) => Float64Array {
  const { ia, ib } = broadcastIndex(aShape, bShape);
  return (a, b) => Float64Array.from(ia, (j, i) => f(a[j], b[ib[i]]));
}

const PAIRS: [number[], number[]][] = [
  [[5, 1, 7], [1, 3, 7]],
  [[4, 9], [9]],
  [[9], [4, 9]],
  [[7], [3, 1]],
  [[2, 3, 4], []],
  [[], [2, 3, 4]],
  [[3, 1], [1, 5]],
  [[3, 37], [3, 37]],
  [[2, 1, 3, 1], [5, 1, 4]],
];

for (const [op, spec] of Object.entries(ag.BINARY_OPS) as [ag.BinaryOp, BinaryOpSpec][]) {
  for (const [k, c] of spec.tests.entries()) {
    Deno.test(`binary ${op} on a ∈ ${domainName(c.a)}, b ∈ ${domainName(c.b)}`, async () => {
      await setup();
      const run = (a: ag.Tensor, b: ag.Tensor) =>
        spec.method === false ? ag.binary(op, a, b) : callMethod(a, op, b);
      const derivatives = spec.derivatives;
      for (const [i, [sa, sb]] of PAIRS.entries()) {
        const name = `${op} [${sa}]·[${sb}]`;
        const a = sample(c.a, sa, 10 + 100 * k + i), b = sample(c.b, sb, 50 + 100 * k + i);
        await checkOp(name, [a, b], run, broadcastRef(sa, sb, spec.forward.f64), {
          grad: derivatives !== null,
        });
        const a64 = Float64Array.from(Float32Array.from(a.data));
        const b64 = Float64Array.from(Float32Array.from(b.data));
        const { shape, ia, ib } = broadcastIndex(sa, sb);
        if (derivatives === null) {
          // Declared without gradient: the output records no graph.
          await ag.tidy(() => {
            const at = ag.tensor(Float32Array.from(a64), sa, { requiresGrad: true });
            assert.equal(run(at, ag.tensor(Float32Array.from(b64), sb)).requiresGrad, false);
          });
          continue;
        }
        // The table's derivatives are the derivatives of its forward.
        const pairs = Array.from(ia, (j, n) => [a64[j], b64[ib[n]]]);
        for (const side of ["a", "b"] as const) {
          const d = derivatives[side].f64;
          const got = Float64Array.from(pairs, ([u, v]) => d(u, v));
          const fd = Float64Array.from(pairs, ([u, v]) => {
            const x = side === "a" ? u : v;
            const h = 1e-6 * Math.max(1, Math.abs(x));
            const f = (t: number) => side === "a" ? spec.forward.f64(t, v) : spec.forward.f64(u, t);
            return (f(x + h) - f(x - h)) / (2 * h);
          });
          assertClose(got, fd, 1e-6, `${name}: reference ∂f/∂${side}`);
        }
        // The kernel's gradients are the table's derivatives, summed over broadcast axes.
        await ag.tidy(async () => {
          const w = randomArray(size(shape), 3 + i);
          const at = ag.tensor(Float32Array.from(a64), sa, { requiresGrad: true });
          const bt = ag.tensor(Float32Array.from(b64), sb, { requiresGrad: true });
          run(at, bt).backward(ag.tensor(Float32Array.from(w), shape));
          const ga = new Float64Array(a64.length), gb = new Float64Array(b64.length);
          pairs.forEach(([u, v], n) => {
            ga[ia[n]] += w[n] * derivatives.a.f64(u, v);
            gb[ib[n]] += w[n] * derivatives.b.f64(u, v);
          });
          assertClose(await at.grad!.toArray(), ga, 1e-4, `${name}: gradient of a vs ∂f/∂a`);
          assertClose(await bt.grad!.toArray(), gb, 1e-4, `${name}: gradient of b vs ∂f/∂b`);
        });
      }
    });
  }
}

Deno.test("binary op of one tensor with itself", async () => {
  await setup();
  await checkOp("x*x", [sample([[-2, 2]], [4, 6], 5)], (x) => x.mul(x), (v) => v.map((u) => u * u));
  // d(x/x)/dx = 1/x − x/x² is exactly 0, so a relative error means nothing: WGSL division may be
  // 2.5 ulp off (it is on NVIDIA), leaving ~1e-7 where the reference has 0. Check it absolutely.
  await checkOp("x/x", [sample([[0.5, 2]], [5], 6)], (x) => x.div(x), (v) => v.map(() => 1), {
    grad: false,
  });
  await ag.tidy(async () => {
    const x = ag.tensor(randomArray(5, 6, 0.5, 2), [5], { requiresGrad: true });
    x.div(x).sum().backward();
    for (const g of await x.grad!.toArray()) assert.ok(Math.abs(g) < 1e-5, `x/x gradient ${g}`);
  });
  // x − x is exactly 0 in IEEE arithmetic, and so is its gradient g − g.
  await ag.tidy(async () => {
    const x = ag.tensor(randomArray(37, 7, -3, 3), [37], { requiresGrad: true });
    const y = x.sub(x);
    const values = await y.toArray();
    assert.ok(values.every((v) => v === 0), `x − x = ${values}`);
    y.backward(ag.tensor(randomArray(37, 8), [37]));
    const grads = await x.grad!.toArray();
    assert.ok(grads.every((v) => v === 0), `gradient of x − x = ${grads}`);
  });
});

Deno.test("maximum/minimum split the gradient evenly on ties", async () => {
  await setup();
  await ag.tidy(async () => {
    const a = ag.tensor([1, 2, 3, -1], [4], { requiresGrad: true });
    const b = ag.tensor([1, 5, 0, -1], [4], { requiresGrad: true });
    const w = ag.tensor([1, 2, 3, 4], [4]);
    a.maximum(b).mul(w).sum().backward();
    assert.deepEqual([...await a.grad!.toArray()], [0.5, 0, 3, 2]);
    assert.deepEqual([...await b.grad!.toArray()], [0.5, 2, 0, 2]);
    a.grad!.dispose();
    b.grad!.dispose();
    a.grad = b.grad = null;
    a.minimum(b).mul(w).sum().backward();
    assert.deepEqual([...await a.grad!.toArray()], [0.5, 2, 0, 2]);
    assert.deepEqual([...await b.grad!.toArray()], [0.5, 0, 3, 2]);
    a.grad!.dispose();
    b.grad!.dispose();
  });
});

Deno.test("a gradient to one input only: the other is neither computed nor read", async () => {
  await setup();
  await ag.tidy(async () => {
    const a = ag.tensor([1, -2, 3], [3]);
    const b = ag.tensor([4, 5, -6], [3], { requiresGrad: true });
    const y = a.sub(b);
    // ∂(a − b)/∂b = −1 reads neither operand, and a needs no gradient: a may be gone by now.
    a.dispose();
    y.backward(ag.tensor([0.5, 1, 2], [3]));
    assert.deepEqual([...await b.grad!.toArray()], [-0.5, -1, -2]);
    // Only b's gradient (a · dy) is written: a stand-in takes the binding of a's.
    const c = ag.tensor([2, 4, 8], [3]);
    b.grad!.dispose();
    b.grad = null;
    c.mul(b).backward(ag.tensor([1, 1, 0.5], [3]));
    assert.deepEqual([...await b.grad!.toArray()], [2, 4, 4]);
    b.grad!.dispose();
  });
});

Deno.test("errors name the op: unknown ops, scalars given or missing, numbers refused", async () => {
  await setup();
  await ag.tidy(() => {
    const x = ag.tensor([1, 2], [2]);
    assert.throws(() => ag.unary("sine" as ag.UnaryOp, x), /unknown unary op 'sine'/);
    assert.throws(() => ag.binary("plus" as ag.BinaryOp, x, x), /unknown binary op 'plus'/);
    assert.throws(() => ag.unary("exp", x, 2), /unary op 'exp' takes no scalar/);
    assert.throws(() => ag.unary("powScalar", x), /unary op 'powScalar' needs its exponent/);
    assert.throws(() => callMethod(x, "maximum", 1), /maximum: the operand must be a Tensor/);
  });
});

Deno.test("the derivative 1 passes the gradient on without a kernel", async () => {
  await setup();
  /** Dispatches recorded by `f(x).backward()` for a one-element leaf x. */
  const backwardDispatches = (f: (x: ag.Tensor) => ag.Tensor) =>
    ag.tidy(() => {
      const x = ag.tensor([1.5], [1], { requiresGrad: true });
      const y = f(x);
      const before = ag.counters().dispatches;
      y.backward();
      x.grad!.dispose();
      return ag.counters().dispatches - before;
    });
  const seedOnly = backwardDispatches((x) => x);
  assert.equal(backwardDispatches((x) => x.add(2.5)), seedOnly, "addScalar");
  assert.equal(backwardDispatches((x) => x.clone()), seedOnly, "copy");
  assert.equal(backwardDispatches((x) => x.add(ag.zeros([1]))), seedOnly, "add");
  assert.ok(backwardDispatches((x) => x.mul(1)) > seedOnly, "mulScalar runs its kernel");
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
  const a = sample([[-1, 1]], sa, 31), b = sample([[-1, 1]], sb, 32);
  const got = await ag.tensor(Float32Array.from(a.data), sa).mul(
    ag.tensor(Float32Array.from(b.data), sb),
  ).toArray();
  const want = broadcastRef(sa, sb, (u, v) => u * v)(
    Float64Array.from(Float32Array.from(a.data)),
    Float64Array.from(Float32Array.from(b.data)),
  );
  assertClose(got, want, 1e-6, "mul [513,1,3]·[1,129,3]");
});
