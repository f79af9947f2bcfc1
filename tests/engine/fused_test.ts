/**
 * Fused elementwise ops (engine/ops/fused.ts): forward against plain float64 references and
 * gradients against finite differences (checkOp) on odd shapes that are not multiples of the
 * 256-wide workgroup, with every kind of log-scale broadcast (same shape, one element, per band,
 * trailing axis) and log-scales that make e^{−logScale} large and small; the gradients written
 * only for inputs that need them; agreement with the unary/binary composition each op replaces;
 * and forwards larger than one workgroup row and than one 65,535-workgroup dispatch row.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { assertClose, type CheckInput, checkOp, randomArray, rng, setup, size } from "../util.ts";

await setup();

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function inp(shape: number[], seed: number, lo = -1, hi = 1): CheckInput {
  return { data: randomArray(size(shape), seed, lo, hi), shape };
}

/** For each element of `shape`, the index of the element of `from` broadcast onto it. */
function broadcastIndex(from: number[], shape: number[]): Int32Array {
  const pad = [...Array(shape.length - from.length).fill(1), ...from];
  const index = new Int32Array(size(shape));
  for (let i = 0; i < index.length; i++) {
    let rest = i, j = 0, stride = 1;
    for (let k = shape.length - 1; k >= 0; k--) {
      const coord = rest % shape[k];
      rest = Math.floor(rest / shape[k]);
      if (pad[k] !== 1) j += coord * stride;
      stride *= pad[k];
    }
    index[i] = j;
  }
  return index;
}

function gaussianRef(shape: number[], lsShape: number[]) {
  const at = broadcastIndex(lsShape, shape);
  return (x: Float64Array, m: Float64Array, ls: Float64Array) =>
    x.map((v, i) => {
      const s = ls[at[i]];
      return 0.5 * ((v - m[i]) * Math.exp(-s)) ** 2 + s + HALF_LOG_2PI;
    });
}

function laplaceRef(shape: number[], lsShape: number[]) {
  const at = broadcastIndex(lsShape, shape);
  return (x: Float64Array, m: Float64Array, ls: Float64Array) =>
    x.map((v, i) => {
      const s = ls[at[i]];
      return Math.abs(v - m[i]) * Math.exp(-s) + s + Math.LN2;
    });
}

function klRef(mu: Float64Array, lv: Float64Array): Float64Array {
  return mu.map((m, i) => 0.5 * (m * m + Math.exp(lv[i]) - 1 - lv[i]));
}

function reparameterizeRef(eps: Float64Array) {
  return (mu: Float64Array, lv: Float64Array) =>
    mu.map((m, i) => m + Math.exp(0.5 * lv[i]) * eps[i]);
}

const SHAPE = [3, 7, 13];
/** Log-scale shapes broadcast to [3, 7, 13]: one element (rank 0 and 1), per band, etc. */
const LOG_SCALE_SHAPES = [[], [1], [1, 7, 1], [7, 1], [13], [3, 1, 13], [3, 7, 13]];
/** Log-scale ranges: e^{−s} from e^{4} ≈ 55 (sharp) down to e^{−3} ≈ 0.05 (broad). */
const LOG_SCALE_RANGES: [number, number][] = [[-4, -2], [-0.5, 0.5], [2, 3]];

Deno.test("fusedGaussianNll matches its float64 reference, with gradients, every broadcast", async () => {
  let seed = 1;
  for (const lsShape of LOG_SCALE_SHAPES) {
    for (const [lo, hi] of LOG_SCALE_RANGES) {
      await checkOp(
        `gaussianNll logScale [${lsShape}] in [${lo}, ${hi})`,
        [inp(SHAPE, seed++, -2, 2), inp(SHAPE, seed++, -2, 2), inp(lsShape, seed++, lo, hi)],
        (x, m, ls) => ag.fusedGaussianNll(x, m, ls),
        gaussianRef(SHAPE, lsShape),
      );
    }
  }
});

Deno.test("fusedLaplaceNll matches its float64 reference, with gradients, every broadcast", async () => {
  let seed = 100;
  for (const lsShape of LOG_SCALE_SHAPES) {
    for (const [lo, hi] of LOG_SCALE_RANGES) {
      // x − mean kept away from the kink at 0, where finite differences are meaningless.
      const m = inp(SHAPE, seed++, -2, 2);
      const r = rng(seed++);
      const x = {
        data: m.data.map((v) => v + (r() < 0.5 ? -1 : 1) * (0.01 + r())),
        shape: SHAPE,
      };
      await checkOp(
        `laplaceNll logScale [${lsShape}] in [${lo}, ${hi})`,
        [x, m, inp(lsShape, seed++, lo, hi)],
        (x, m, ls) => ag.fusedLaplaceNll(x, m, ls),
        laplaceRef(SHAPE, lsShape),
      );
    }
  }
});

Deno.test("fusedLaplaceNll has gradient 0 w.r.t. x and mean where x = mean (like abs)", async () => {
  await ag.tidy(async () => {
    const x = ag.tensor([1, 2, 3], [3], { requiresGrad: true });
    const m = ag.tensor([1, 0, 3], [3], { requiresGrad: true });
    const ls = ag.tensor([0.5], [1], { requiresGrad: true });
    ag.fusedLaplaceNll(x, m, ls).sum().backward();
    const e = Math.exp(-0.5);
    assertClose(await x.grad!.toArray(), [0, e, 0], 1e-6, "dx");
    assertClose(await m.grad!.toArray(), [0, -e, 0], 1e-6, "dmean");
    // d/ds of |d|·e^{−s} + s: 1 − |d|·e^{−s} per element, summed.
    assertClose(await ls.grad!.toArray(), [3 - 2 * e], 1e-6, "dlogScale");
  });
});

Deno.test("fusedKlStandardNormal matches ½(μ² + e^{logvar} − 1 − logvar), with gradients", async () => {
  // Wide log-variances, and small ones where e^{logvar} − 1 − logvar cancels in the direct form.
  for (const [lo, hi, seed] of [[-6, 4, 1], [-0.2, 0.2, 2], [-1e-3, 1e-3, 3]]) {
    await checkOp(
      `klStandardNormal logvar in [${lo}, ${hi})`,
      [inp(SHAPE, 10 * seed, -2, 2), inp(SHAPE, 10 * seed + 1, lo, hi)],
      (mu, lv) => ag.fusedKlStandardNormal(mu, lv),
      klRef,
    );
  }
  // Near N(0, 1) the KL is tiny; relative accuracy there is what the series buys.
  const mu = inp([1000], 40, -1e-3, 1e-3), lv = inp([1000], 41, -1e-3, 1e-3);
  const got = await ag.tidy(() =>
    ag.fusedKlStandardNormal(
      ag.tensor(Float32Array.from(mu.data), [1000]),
      ag.tensor(Float32Array.from(lv.data), [1000]),
    ).toArray()
  );
  const ref = klRef(
    Float64Array.from(Float32Array.from(mu.data)),
    Float64Array.from(Float32Array.from(lv.data)),
  );
  assertClose(got, ref, 1e-5, "klStandardNormal near N(0, 1)");
});

Deno.test("fusedReparameterize is μ + e^{½·logvar}·ε, with gradients for μ and logvar", async () => {
  const eps = Float64Array.from(Float32Array.from(randomArray(size(SHAPE), 50, -2.5, 2.5)));
  const epsT = ag.tensor(Float32Array.from(eps), SHAPE);
  for (const [lo, hi, seed] of [[-8, -4, 1], [-1, 1, 2], [2, 4, 3]]) {
    await checkOp(
      `reparameterize logvar in [${lo}, ${hi})`,
      [inp(SHAPE, 60 + seed, -2, 2), inp(SHAPE, 70 + seed, lo, hi)],
      (mu, lv) => ag.fusedReparameterize(mu, lv, epsT),
      reparameterizeRef(eps),
    );
  }
  epsT.dispose();
});

Deno.test("fused ops write only the gradients their inputs need", async () => {
  await ag.tidy(async () => {
    const xs = randomArray(size(SHAPE), 80, -2, 2), ms = randomArray(size(SHAPE), 81, -2, 2);
    const shapes = [[1, 7, 1], []];
    for (const lsShape of shapes) {
      const lsv = randomArray(size(lsShape), 82, -1, 1);
      const grads = (needX: boolean, needMean: boolean, needLs: boolean) => {
        const x = ag.tensor(Float32Array.from(xs), SHAPE, { requiresGrad: needX });
        const m = ag.tensor(Float32Array.from(ms), SHAPE, { requiresGrad: needMean });
        const ls = ag.tensor(Float32Array.from(lsv), lsShape, { requiresGrad: needLs });
        const w = ag.tensor(Float32Array.from(randomArray(size(SHAPE), 83)), SHAPE);
        ag.fusedGaussianNll(x, m, ls).mul(w).sum().backward();
        return Promise.all([x, m, ls].map((t) => t.grad?.toArray() ?? null));
      };
      const all = await grads(true, true, true);
      for (const need of [[false, true, true], [false, true, false], [true, false, false]]) {
        const some = await grads(need[0], need[1], need[2]);
        some.forEach((g, k) => {
          if (!need[k]) assert.equal(g, null, `input ${k} got a gradient it did not ask for`);
          else assertClose(g!, all[k]!, 1e-7, `gradient ${k} with needs ${need}`);
        });
      }
    }
    const mu = ag.tensor(Float32Array.from(xs), SHAPE);
    const lv = ag.tensor(Float32Array.from(ms), SHAPE, { requiresGrad: true });
    ag.fusedKlStandardNormal(mu, lv).sum().backward();
    assert.equal(mu.grad, null);
    const ref = Float64Array.from(Float32Array.from(ms), (v) => 0.5 * Math.expm1(v));
    assertClose(await lv.grad!.toArray(), ref, 1e-6, "KL dlogvar alone");
  });
});

Deno.test("fused ops agree with the unary/binary compositions they replace", async () => {
  await ag.tidy(async () => {
    const t = (shape: number[], seed: number, lo = -2, hi = 2) =>
      ag.tensor(Float32Array.from(randomArray(size(shape), seed, lo, hi)), shape, {
        requiresGrad: true,
      });
    const x = t(SHAPE, 90), m = t(SHAPE, 91), ls = t([1, 7, 1], 92, -1, 1);
    const mu = t(SHAPE, 93), lv = t(SHAPE, 94, -3, 2);
    const eps = ag.randn(SHAPE, { seed: 95 });
    const leaves = [x, m, ls, mu, lv];
    const run = async (fused: boolean) => {
      const terms = fused
        ? [
          ag.fusedGaussianNll(x, m, ls),
          ag.fusedLaplaceNll(x, m, ls),
          ag.fusedKlStandardNormal(mu, lv),
          ag.fusedReparameterize(mu, lv, eps),
        ]
        : [
          x.sub(m).mul(ls.neg().exp()).square().mul(0.5).add(ls).add(HALF_LOG_2PI),
          x.sub(m).abs().mul(ls.neg().exp()).add(ls).add(Math.LN2),
          mu.square().add(lv.exp()).sub(lv).add(-1).mul(0.5),
          mu.add(lv.mul(0.5).exp().mul(eps)),
        ];
      const weights = terms.map((_, k) => ag.randn(SHAPE, { seed: 96 + k }));
      let loss = terms[0].mul(weights[0]).sum();
      for (let k = 1; k < terms.length; k++) loss = loss.add(terms[k].mul(weights[k]).sum());
      loss.backward();
      const out = await Promise.all([
        ...terms.map((y) => y.toArray()),
        ...leaves.map((l) => l.grad!.toArray()),
      ]);
      for (const l of leaves) l.grad = null;
      return out;
    };
    const composed = await run(false);
    const fused = await run(true);
    const names = ["gaussian", "laplace", "kl", "reparameterize", "dx", "dmean", "dlogScale"];
    fused.forEach((f, k) => assertClose(f, composed[k], 2e-6, names[k] ?? `grad ${k}`));
  });
});

Deno.test("fused forwards are fully written past one workgroup row (> 70,000 elements)", async () => {
  const shape = [16, 80, 57]; // 72,960 elements: 285 workgroups, the last one full
  const odd = [7, 80, 131]; // 73,360: the last workgroup partly idle
  for (const s of [shape, odd]) {
    await checkOp(
      `gaussianNll [${s}] per band`,
      [inp(s, 1, -2, 2), inp(s, 2, -2, 2), inp([1, 80, 1], 3)],
      (x, m, ls) => ag.fusedGaussianNll(x, m, ls),
      gaussianRef(s, [1, 80, 1]),
      { grad: false },
    );
    await checkOp(
      `laplaceNll [${s}] scalar`,
      [inp(s, 4, -2, 2), inp(s, 5, -2, 2), inp([], 6)],
      (x, m, ls) => ag.fusedLaplaceNll(x, m, ls),
      laplaceRef(s, []),
      { grad: false },
    );
    await checkOp(
      `klStandardNormal [${s}]`,
      [inp(s, 7, -2, 2), inp(s, 8, -4, 3)],
      (mu, lv) => ag.fusedKlStandardNormal(mu, lv),
      klRef,
      { grad: false },
    );
    const eps = Float64Array.from(Float32Array.from(randomArray(size(s), 9, -3, 3)));
    const epsT = ag.tensor(Float32Array.from(eps), s);
    await checkOp(
      `reparameterize [${s}]`,
      [inp(s, 10, -2, 2), inp(s, 11, -4, 3)],
      (mu, lv) => ag.fusedReparameterize(mu, lv, epsT),
      reparameterizeRef(eps),
      { grad: false },
    );
    epsT.dispose();
  }
});

Deno.test("fusedGaussianNll with a per-band log-scale over more than 65,535 workgroups", async () => {
  const shape = [2, 80, 104_860]; // 16,777,600 elements > 65,535 · 256: a 2-D grid
  const n = size(shape);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = ((i * 7919) % 1000) / 250 - 2;
  const ls = Float32Array.from({ length: 80 }, (_, b) => (b - 40) / 20);
  const got = await ag.tidy(() =>
    ag.fusedGaussianNll(ag.tensor(x, shape), ag.zeros(shape), ag.tensor(ls, [1, 80, 1]))
      .toArray()
  );
  for (let i = 0; i < n; i++) {
    const s = ls[Math.floor(i / shape[2]) % 80];
    const want = 0.5 * (x[i] * Math.exp(-s)) ** 2 + s + HALF_LOG_2PI;
    const err = Math.abs(got[i] - want) / Math.max(1, Math.abs(want));
    // An unwritten element is NaN, and fails here too.
    if (!(err < 1e-5)) assert.fail(`element ${i}: ${got[i]} vs ${want}`);
  }
});

Deno.test("fused ops name the op and shapes that do not fit", () => {
  ag.tidy(() => {
    const a = ag.zeros([3, 4]), b = ag.zeros([4, 3]);
    assert.throws(() => ag.fusedGaussianNll(a, b, ag.zeros([])), /gaussianNll: mean \[4,3\]/);
    assert.throws(
      () => ag.fusedLaplaceNll(a, a, ag.zeros([2, 1])),
      /laplaceNll: logScale \[2,1\] does not broadcast to x \[3,4\]/,
    );
    // A log-scale that broadcasts to more than x's shape is refused too: out keeps x's shape.
    assert.throws(() => ag.fusedGaussianNll(a, a, ag.zeros([2, 3, 4])), /does not broadcast/);
    assert.throws(() => ag.fusedKlStandardNormal(a, b), /klStandardNormal: logvar \[4,3\]/);
    assert.throws(() => ag.fusedReparameterize(a, a, b), /reparameterize: eps \[4,3\]/);
  });
});
