/**
 * Reductions (sum, mean, max, min, logsumexp) over one axis, several adjacent and non-adjacent
 * axes and all axes, with keepdim on and off; rows long enough for the workgroup path (>= 512)
 * and short ones for the per-thread path; large outer counts. Forward against a float64
 * reference, gradient against finite differences (checkOp).
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { assertClose, type CheckInput, checkOp, randomArray, setup, size } from "../util.ts";

function inp(shape: number[], seed: number, lo = -1, hi = 1): CheckInput {
  return { data: randomArray(size(shape), seed, lo, hi), shape };
}

type Kind = "sum" | "mean" | "max" | "min" | "logsumexp";

/** Normalised, sorted axes (all when undefined). */
function axesOf(axis: number | number[] | undefined, rank: number): number[] {
  const list = axis === undefined ? [...Array(rank).keys()] : Array.isArray(axis) ? axis : [axis];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
}

/** Output shape of a reduction. */
function reducedShape(shape: number[], axes: number[], keepdim: boolean): number[] {
  return keepdim
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

/** Plain float64 reduction: groups the input elements by output index, then folds each group. */
function reduceRef(
  kind: Kind,
  shape: number[],
  axis: number | number[] | undefined,
): (x: Float64Array) => Float64Array {
  const axes = axesOf(axis, shape.length);
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return (x) => {
    const groups: number[][] = Array.from({ length: size(kept) }, () => []);
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < x.length; i++) {
      let rest = i;
      for (let k = shape.length - 1; k >= 0; k--) {
        idx[k] = rest % shape[k];
        rest = Math.floor(rest / shape[k]);
      }
      let o = 0;
      for (let k = 0; k < shape.length; k++) o = o * kept[k] + (axes.includes(k) ? 0 : idx[k]);
      groups[o].push(x[i]);
    }
    return Float64Array.from(groups, (g) => {
      switch (kind) {
        case "sum":
          return g.reduce((a, b) => a + b, 0);
        case "mean":
          return g.reduce((a, b) => a + b, 0) / g.length;
        case "max":
          return Math.max(...g);
        case "min":
          return Math.min(...g);
        case "logsumexp": {
          const m = Math.max(...g);
          return m + Math.log(g.reduce((a, b) => a + Math.exp(b - m), 0));
        }
      }
    });
  };
}

function gpuReduce(kind: Kind, axis: number | number[] | undefined, keepdim: boolean) {
  return (x: ag.Tensor) => x[kind](axis, keepdim);
}

const KINDS: Kind[] = ["sum", "mean", "max", "min", "logsumexp"];

const CASES: { shape: number[]; axis: number | number[] | undefined }[] = [
  { shape: [5, 7], axis: 1 },
  { shape: [5, 7], axis: 0 },
  { shape: [3, 4, 5], axis: -2 },
  { shape: [2, 3, 4, 5], axis: [1, 2] }, // adjacent
  { shape: [2, 3, 4, 5], axis: [0, 2] }, // non-adjacent
  { shape: [2, 3, 4, 5], axis: [-1, 0] }, // non-adjacent, negative, unsorted
  { shape: [3, 2, 5], axis: [0, 1, 2] },
  { shape: [3, 2, 5], axis: undefined }, // all
  { shape: [13], axis: 0 },
];

for (const kind of KINDS) {
  Deno.test(`${kind}: single, multiple and all axes, keepdim on and off`, async () => {
    await setup();
    for (const [i, c] of CASES.entries()) {
      for (const keepdim of [false, true]) {
        const name = `${kind}([${c.shape}], axis ${JSON.stringify(c.axis)}, keepdim ${keepdim})`;
        const x = inp(c.shape, 200 + i, -2, 2);
        await checkOp(name, [x], (t) => {
          const out = gpuReduce(kind, c.axis, keepdim)(t);
          const want = reducedShape(c.shape, axesOf(c.axis, c.shape.length), keepdim);
          assert.deepEqual(out.shape, want, `${name} shape`);
          return out;
        }, reduceRef(kind, c.shape, c.axis));
      }
    }
  });

  Deno.test(`${kind}: long rows take the workgroup path`, async () => {
    await setup();
    // 1031 and 3·347 = 1041 are >= 512 and not multiples of 256.
    for (
      const [shape, axis] of [
        [[3, 1031], 1],
        [[1031, 3], 0],
        [[2, 3, 347], [1, 2]],
        [[600], undefined],
      ] as [number[], number | number[] | undefined][]
    ) {
      const x = inp(shape, 7, -3, 3);
      await checkOp(
        `${kind}([${shape}], ${JSON.stringify(axis)})`,
        [x],
        gpuReduce(kind, axis, false),
        reduceRef(kind, shape, axis),
      );
    }
  });
}

Deno.test("sum over a long row and a large outer count (forward)", async () => {
  await setup();
  for (
    const [shape, axis] of [
      [[70000, 3], 1],
      [[70000, 3], 0],
      [[3, 100003], 1],
      [[5, 4099, 3], 1],
    ] as [number[], number][]
  ) {
    for (const kind of ["sum", "max", "min"] as const) {
      const x = inp(shape, 11, -1, 1);
      await checkOp(
        `${kind}([${shape}], ${axis})`,
        [x],
        gpuReduce(kind, axis, false),
        reduceRef(kind, shape, axis),
        { grad: false },
      );
    }
  }
});

Deno.test("workgroup path over more than 65,535 outputs (2-D grid)", async () => {
  await setup();
  // 65,536 rows of 512: one workgroup per row, so the grid must be split over x and y.
  const [rows, r] = [65536, 512];
  await ag.tidy(async () => {
    const x = ag.rand([rows, r], { seed: 3, low: -1, high: 1 });
    const data = await x.toArray();
    for (const kind of ["sum", "max"] as const) {
      const got = await x[kind](1).toArray();
      const want = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        let acc = kind === "sum" ? 0 : -Infinity;
        for (let k = 0; k < r; k++) {
          const v = data[i * r + k];
          acc = kind === "sum" ? acc + v : Math.max(acc, v);
        }
        want[i] = acc;
      }
      assertClose(got, want, 1e-5, `${kind} [${rows}, ${r}] over the last axis`);
    }
  });
});

Deno.test("logsumexp is stable for large inputs and exact for -inf rows", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1000, 1000.5, 999, -1000, -1001, -999.25], [2, 3]);
    const got = await x.logsumexp(1).toArray();
    const want = reduceRef("logsumexp", [2, 3], 1)(Float64Array.from(await x.toArray()));
    assertClose(got, want, 1e-6, "logsumexp of ±1000");
  });
});

Deno.test("max/min gradients split evenly among ties", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1, 3, 3, 2, -1, -1, 0, 4], [2, 4], { requiresGrad: true });
    x.max(1).mul(ag.tensor([2, 6], [2])).sum().backward();
    assert.deepEqual([...await x.grad!.toArray()], [0, 1, 1, 0, 0, 0, 0, 6]);
    x.grad = null;
    x.min(1).mul(ag.tensor([2, 6], [2])).sum().backward();
    assert.deepEqual([...await x.grad!.toArray()], [2, 0, 0, 0, 3, 3, 0, 0]);
  });
});

Deno.test("mean of everything is a 0-d tensor; reductions check their axes", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor([1.5, 2.5, -1, 4, 0.25, 7], [2, 3]);
    const m = x.mean();
    assert.deepEqual(m.shape, []);
    assert.ok(Math.abs(await m.item() - 14.25 / 6) < 1e-6);
    assert.deepEqual(x.sum([0, 1], true).shape, [1, 1]);
    assert.throws(() => x.sum(2), /axis 2 is out of range for rank 2/);
    assert.throws(() => x.max(-3), /out of range/);
    // Reducing over a size-1 axis is a copy.
    const y = ag.tensor([3, -2, 5], [3, 1]);
    assert.deepEqual([...await y.sum(1).toArray()], [3, -2, 5]);
    assert.deepEqual([...await y.max(1, true).toArray()], [3, -2, 5]);
  });
});

Deno.test("sum of an empty axis is zero; max of an empty tensor throws", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.zeros([3, 0]);
    const s = x.sum(1);
    assert.deepEqual(s.shape, [3]);
    assert.deepEqual([...await s.toArray()], [0, 0, 0]);
    assert.throws(() => x.max(1), /max of an empty tensor/);
  });
});
