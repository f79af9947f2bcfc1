/**
 * The autograd core: gradient accumulation inside one graph and across backward calls, grad
 * mode (noGrad, detach), memory scopes (tidy, keep, dispose), deep graphs, and clear errors.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { assertClose, checkOp, randomArray, setup } from "../util.ts";

Deno.test("a tensor feeding two ops accumulates both gradients: x*x + x", async () => {
  await setup();
  const data = randomArray(37, 1, -2, 2);
  await checkOp(
    "x*x + x",
    [{ data, shape: [37] }],
    (x) => x.mul(x).add(x),
    (x) => x.map((v) => v * v + v),
  );
  // And exactly: d/dx Σ(x² + x) = 2x + 1.
  await ag.tidy(async () => {
    const x = ag.tensor([1.5, -2, 0.25], [3], { requiresGrad: true });
    x.mul(x).add(x).sum().backward();
    assert.deepEqual([...await x.grad!.toArray()], [4, -3, 1.5]);
    x.grad!.dispose();
  });
});

Deno.test("diamond graphs and broadcasting reuse accumulate correctly", async () => {
  await setup();
  await checkOp(
    "exp(x)·sigmoid(x) − x/(1+x²) over a broadcast",
    [{ data: randomArray(12, 2), shape: [3, 4] }, { data: randomArray(4, 3), shape: [4] }],
    (x, b) => {
      const y = x.add(b);
      return y.exp().mul(y.sigmoid()).sub(y.div(y.mul(y).add(1))).add(b.mul(b));
    },
    (x, b) => {
      const out = new Float64Array(12);
      for (let i = 0; i < 12; i++) {
        const y = x[i] + b[i % 4];
        out[i] = Math.exp(y) / (1 + Math.exp(-y)) - y / (1 + y * y) + b[i % 4] ** 2;
      }
      return out;
    },
  );
});

Deno.test(".grad accumulates over two backward calls", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1, 2, -3], [3], { requiresGrad: true });
    const w = ag.tensor([0.5, -1, 2], [3]);
    x.mul(w).sum().backward();
    assert.deepEqual([...await x.grad!.toArray()], [0.5, -1, 2]);
    x.mul(x).sum().backward();
    assert.deepEqual([...await x.grad!.toArray()], [2.5, 3, -4]);
    // Zeroing by hand starts afresh.
    x.grad!.dispose();
    x.grad = null;
    x.sum().backward();
    assert.deepEqual([...await x.grad!.toArray()], [1, 1, 1]);
    x.grad!.dispose();
  });
});

Deno.test("a caller's gradient tensor is not aliased or disposed by backward", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1, 2, 3], [3], { requiresGrad: true });
    const z = ag.tensor([4, 5, 6], [3], { requiresGrad: true });
    const g = ag.tensor([0.5, 0.25, 2], [3]);
    // add passes the incoming gradient straight through to both leaves.
    x.add(z).backward(g);
    assert.notEqual(x.grad, g, "x.grad is the caller's tensor");
    assert.notEqual(z.grad, g, "z.grad is the caller's tensor");
    x.add(z).backward(g);
    assert.ok(!g.isDisposed, "backward disposed the caller's gradient");
    assert.deepEqual([...await g.toArray()], [0.5, 0.25, 2]);
    g.dispose();
    assert.deepEqual([...await x.grad!.toArray()], [1, 0.5, 4]);
    assert.deepEqual([...await z.grad!.toArray()], [1, 0.5, 4]);
    x.grad!.dispose();
    z.grad!.dispose();
  });
});

Deno.test("backward of a non-scalar seeds ones; leaves without requiresGrad get nothing", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const c = ag.tensor([3, 3, 3, 3], [2, 2]);
    x.mul(c).backward();
    assert.deepEqual([...await x.grad!.toArray()], [3, 3, 3, 3]);
    assert.equal(c.grad, null);
    x.grad!.dispose();
  });
});

Deno.test("noGrad records nothing; detach cuts the graph", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1, 2, 3], [3], { requiresGrad: true });
    assert.equal(ag.isGradEnabled(), true);
    const y = ag.noGrad(() => {
      assert.equal(ag.isGradEnabled(), false);
      return x.mul(2).exp().sum();
    });
    assert.equal(ag.isGradEnabled(), true);
    assert.equal(y.gradFn, null);
    assert.equal(y.requiresGrad, false);
    // noGrad restores the mode when its function throws.
    assert.throws(() =>
      ag.noGrad(() => {
        throw new Error("boom");
      }), /boom/);
    assert.equal(ag.isGradEnabled(), true);
    // A detached tensor carries the values but no gradient path.
    const d = x.mul(3).detach();
    assert.equal(d.gradFn, null);
    assert.equal(d.requiresGrad, false);
    x.mul(d).sum().backward(); // d/dx (x · 3x_detached) = 3x
    assert.deepEqual([...await x.grad!.toArray()], [3, 6, 9]);
    x.grad!.dispose();
  });
});

Deno.test("tidy frees every intermediate, forward and backward", async () => {
  await setup();
  const w = ag.randn([8, 5], { seed: 1, requiresGrad: true });
  const before = ag.counters().buffersInUse;
  ag.tidy(() => {
    const x = ag.randn([4, 8], { seed: 2 });
    const loss = x.matmul(w).relu().pad([1, 1]).logsumexp(1).mean();
    loss.backward();
    assert.ok(ag.counters().buffersInUse > before + 5, "the graph should hold buffers");
    w.grad!.dispose();
    w.grad = null;
  });
  assert.equal(ag.counters().buffersInUse, before, "tidy left buffers in use");
  w.dispose();
});

Deno.test("tidy keeps what it returns and what is kept; nested scopes", async () => {
  await setup();
  const before = ag.counters().buffersInUse;
  const { a, list } = ag.tidy(() => {
    const t = ag.tensor([1, 2], [2]);
    const inner = ag.tidy(() => {
      const u = t.mul(2);
      u.add(1); // dropped by the inner scope
      return u;
    });
    assert.ok(!inner.isDisposed && !t.isDisposed);
    const kept = t.add(10).keep();
    return { a: inner, list: [kept, t.neg()] };
  });
  assert.ok(!a.isDisposed && !list[0].isDisposed && !list[1].isDisposed);
  assert.deepEqual([...await a.toArray()], [2, 4]);
  assert.deepEqual([...await list[0].toArray()], [11, 12]);
  assert.deepEqual([...await list[1].toArray()], [-1, -2]);
  assert.equal(ag.counters().buffersInUse, before + 3);
  for (const t of [a, ...list]) t.dispose();
  assert.equal(ag.counters().buffersInUse, before);
});

Deno.test("tidy disposes its tensors when the function throws", async () => {
  await setup();
  const before = ag.counters().buffersInUse;
  await assert.rejects(
    () =>
      ag.tidy(async () => {
        ag.zeros([10]).add(1);
        await Promise.resolve();
        throw new Error("inside");
      }),
    /inside/,
  );
  assert.equal(ag.counters().buffersInUse, before);
});

Deno.test("views share storage: disposing one keeps the other alive", async () => {
  await setup();
  const before = ag.counters().buffersInUse;
  const x = ag.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const v = x.reshape([3, 2]);
  x.dispose();
  assert.deepEqual([...await v.toArray()], [1, 2, 3, 4, 5, 6]);
  assert.equal(ag.counters().buffersInUse, before + 1);
  v.dispose();
  v.dispose(); // idempotent
  assert.equal(ag.counters().buffersInUse, before);
});

Deno.test("a tensor used after dispose throws a clear error", async () => {
  await setup();
  const x = ag.tensor([1, 2, 3], [3]);
  x.dispose();
  assert.equal(x.isDisposed, true);
  assert.throws(() => x.add(1), /tensor \[3\] used after dispose\(\)/);
  assert.throws(() => x.buffer, /used after dispose/);
  await assert.rejects(() => x.toArray(), /used after dispose/);
  const y = ag.tensor([1, 2, 3], [3]);
  assert.throws(() => y.add(x), /used after dispose/);
  y.dispose();
});

Deno.test("a deep graph back-propagates without overflowing the stack", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([0.5, -1], [2], { requiresGrad: true });
    let y = x;
    const depth = 3000;
    for (let i = 0; i < depth; i++) y = y.add(0.001);
    y.mul(y).sum().backward(); // d/dx Σ (x + 3)² = 2y
    // y as f32 computes it: 3000 rounded additions.
    const want = [0.5, -1].map((v) => {
      for (let i = 0; i < depth; i++) v = Math.fround(v + Math.fround(0.001));
      return 2 * v;
    });
    assertClose(await x.grad!.toArray(), want, 1e-6, "deep chain gradient");
  });
});

Deno.test("item, toArray and tensor creation check their inputs", async () => {
  await setup();
  await ag.tidy(async () => {
    assert.throws(() => ag.tensor([1, 2, 3], [2, 2]), /3 values do not fill shape \[2,2\] \(4\)/);
    await assert.rejects(() => ag.tensor([1, 2], [2]).item(), /2 elements, not 1/);
    assert.equal(await ag.scalar(-2.5).item(), -2.5);
    assert.deepEqual([...await ag.full([2, 2], 0.75).toArray()], [0.75, 0.75, 0.75, 0.75]);
    assert.deepEqual([...await ag.onesLike(ag.zeros([3])).toArray()], [1, 1, 1]);
  });
});

Deno.test("op outputs are NaN-poisoned when the runtime says so (tests), else left alone", async () => {
  await setup();
  const runtime = ag.rt();
  assert.equal(runtime.poisonOutputs, true, "setup() turns poisoning on");
  const poisoned = ag.Tensor.empty([300]);
  assert.ok((await poisoned.toArray()).every(Number.isNaN), "an unwritten output reads NaN");
  poisoned.dispose();
  runtime.poisonOutputs = false;
  try {
    const before = ag.counters().dispatches;
    ag.Tensor.empty([300]).dispose();
    assert.equal(ag.counters().dispatches, before, "no fill without poisoning");
  } finally {
    runtime.poisonOutputs = true;
  }
});

Deno.test("the autograd core runs without engine/methods.ts (no helper to inject)", async () => {
  const exec = Deno.execPath();
  const deno = Deno.permissions.querySync({ name: "run", command: exec }).state === "granted"
    ? exec
    : "deno";
  const fixture = new URL("./fixtures/core_alone.ts", import.meta.url).pathname;
  const r = await new Deno.Command(deno, {
    args: ["run", "--allow-env", "--allow-read", fixture],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const got = JSON.parse(new TextDecoder().decode(r.stdout));
  const want = [0.5, -1, 2].map((v) => 2 * v + Math.exp(v));
  assertClose(got.x, want, 1e-6, "d/dx Σ (x·x + exp x)");
  assert.deepEqual(got, { x: got.x, a: [1, 1], b: [1, 1], distinct: true });
});

Deno.test("backward() is synchronous: it returns nothing, and the gradients are set", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1, -2, 3], [3], { requiresGrad: true });
    const returned: unknown = x.mul(x).sum().backward();
    assert.equal(returned, undefined);
    assert.ok(x.grad, "grad set when backward() returns");
    assert.deepEqual([...await x.grad.toArray()], [2, -4, 6]);
    x.grad.dispose();
  });
});

Deno.test("accumulating into a .grad of another shape is an error naming both shapes", async () => {
  await setup();
  ag.tidy(() => {
    const x = ag.tensor([1, -2, 3], [3], { requiresGrad: true });
    x.grad = ag.zeros([1]);
    assert.throws(
      () => x.mul(x).sum().backward(),
      /gradients \[1\] and \[3\] of one tensor differ/,
    );
  });
});
