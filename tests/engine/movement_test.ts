/**
 * Movement ops: reshape, permute/transpose, slice, flip, expand, concat and pad (constant and
 * reflect). Each forward against a plain index-mapping reference in float64, each gradient
 * against finite differences (checkOp), on odd shapes.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { type CheckInput, checkOp, randomArray, setup, size, strides } from "../util.ts";

function inp(shape: number[], seed: number): CheckInput {
  return { data: randomArray(size(shape), seed, -2, 2), shape };
}

/** Multi-index of flat index `i` in `shape`. */
function unravel(i: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

/** Flat index of multi-index `idx` in `shape`. */
function ravel(idx: number[], shape: number[]): number {
  let f = 0;
  for (let k = 0; k < shape.length; k++) f = f * shape[k] + idx[k];
  return f;
}

/** out[idx] = x[source(idx)] over every index of `outShape`; source null means `fill`. */
function gatherRef(
  inShape: number[],
  outShape: number[],
  source: (idx: number[]) => number[] | null,
  fill = 0,
): (x: Float64Array) => Float64Array {
  return (x) => {
    const out = new Float64Array(size(outShape));
    for (let i = 0; i < out.length; i++) {
      const s = source(unravel(i, outShape));
      out[i] = s ? x[ravel(s, inShape)] : fill;
    }
    return out;
  };
}

Deno.test("reshape, including -1, and its gradient", async () => {
  await setup();
  for (
    const [from, to, want] of [
      [[6, 35], [-1, 7], [30, 7]],
      [[3, 5, 7], [7, -1], [7, 15]],
      [[105], [3, 5, 7], [3, 5, 7]],
      [[2, 3, 4], [-1], [24]],
      [[1], [], []],
    ] as number[][][]
  ) {
    await checkOp(`reshape [${from}] → [${to}]`, [inp(from, 1)], (x) => {
      const y = x.reshape(to);
      assert.deepEqual(y.shape, want);
      // A non-trivial consumer, so the gradient passes through the reshape.
      return y.mul(y);
    }, (x) => x.map((v) => v * v));
  }
});

Deno.test("reshape rejects sizes that do not match", async () => {
  await setup();
  const x = ag.zeros([4, 6]);
  assert.throws(() => x.reshape([5, -1]), /cannot reshape \[4,6\] to \[5,-1\]/);
  assert.throws(() => x.reshape([7, 3]), /cannot reshape/);
  x.dispose();
});

Deno.test("permute rank 3, 4 and 5", async () => {
  await setup();
  for (
    const [shape, dims] of [
      [[3, 5, 7], [2, 0, 1]],
      [[3, 5, 7], [1, 2, 0]],
      [[2, 3, 5, 7], [3, 1, 0, 2]],
      [[2, 3, 4, 5, 3], [4, 2, 0, 3, 1]],
      [[2, 3, 4, 5, 3], [0, 1, 2, -1, -2]],
    ] as number[][][]
  ) {
    const axes = dims.map((d) => (d < 0 ? d + shape.length : d));
    const outShape = axes.map((a) => shape[a]);
    await checkOp(
      `permute [${shape}] by [${dims}]`,
      [inp(shape, 2)],
      (x) => x.permute(dims),
      gatherRef(shape, outShape, (idx) => {
        const src = new Array<number>(shape.length);
        axes.forEach((a, i) => src[a] = idx[i]);
        return src;
      }),
    );
  }
});

Deno.test("permute rejects a non-permutation", async () => {
  await setup();
  const x = ag.zeros([2, 3, 4]);
  assert.throws(() => x.permute([0, 0, 1]), /not a permutation/);
  assert.throws(() => x.permute([0, 1]), /not a permutation/);
  x.dispose();
});

Deno.test("transpose: default last two axes and explicit axes", async () => {
  await setup();
  for (
    const [shape, d0, d1] of [
      [[5, 7], undefined, undefined],
      [[3, 5, 7], undefined, undefined],
      [[3, 5, 7], 0, 2],
      [[4, 3, 2, 5], -4, 1],
    ] as [number[], number | undefined, number | undefined][]
  ) {
    const r = shape.length;
    const a = d0 === undefined ? r - 2 : (d0 + r) % r;
    const b = d1 === undefined ? r - 1 : (d1 + r) % r;
    const outShape = [...shape];
    [outShape[a], outShape[b]] = [shape[b], shape[a]];
    await checkOp(
      `transpose [${shape}] ${d0},${d1}`,
      [inp(shape, 3)],
      (x) => x.transpose(d0, d1),
      gatherRef(shape, outShape, (idx) => {
        const src = [...idx];
        [src[a], src[b]] = [idx[b], idx[a]];
        return src;
      }),
    );
  }
});

Deno.test("slice with steps, negative indices and clamping", async () => {
  await setup();
  const cases: [number[], number, number, number | undefined, number | undefined][] = [
    [[5, 13, 3], 1, -11, -2, 3], // indices 2, 5, 8
    [[5, 13, 3], 1, 0, undefined, 2],
    [[5, 13, 3], 0, -3, undefined, undefined],
    [[5, 13, 3], -1, 1, 3, undefined],
    [[7, 9], 1, -100, 100, 4], // clamped to 0..9: 0, 4, 8
    [[7, 9], 0, 2, 3, 1],
    [[260], 0, 3, 259, 7],
  ];
  for (const [shape, axis, start, end, step] of cases) {
    const a = axis < 0 ? axis + shape.length : axis;
    const n = shape[a];
    const clamp = (i: number) => Math.min(n, Math.max(0, i < 0 ? i + n : i));
    const s = clamp(start), e = clamp(end ?? n), st = step ?? 1;
    const count = Math.max(0, Math.ceil((e - s) / st));
    const outShape = shape.map((d, i) => (i === a ? count : d));
    await checkOp(
      `slice [${shape}] axis ${axis} ${start}:${end}:${step}`,
      [inp(shape, 4)],
      (x) => {
        const y = x.slice(axis, start, end, step);
        assert.deepEqual(y.shape, outShape);
        return y;
      },
      gatherRef(shape, outShape, (idx) => idx.map((v, i) => (i === a ? s + v * st : v))),
    );
  }
});

Deno.test("slice: empty result and invalid step", async () => {
  await setup();
  const x = ag.tensor([1, 2, 3, 4], [4]);
  const y = x.slice(0, 3, 1);
  assert.deepEqual(y.shape, [0]);
  assert.throws(() => x.slice(0, 0, 4, 0), /step 0/);
  assert.throws(() => x.slice(0, 0, 4, -1), /step -1/);
  x.dispose();
  y.dispose();
});

Deno.test("flip one and several axes", async () => {
  await setup();
  for (
    const [shape, axes] of [
      [[3, 4, 5], [0, 2]],
      [[3, 4, 5], -1],
      [[7], 0],
      [[2, 3, 4, 5], [1, 2, 3]],
    ] as [number[], number | number[]][]
  ) {
    const list = (typeof axes === "number" ? [axes] : axes).map((a) =>
      a < 0 ? a + shape.length : a
    );
    await checkOp(
      `flip [${shape}] ${JSON.stringify(axes)}`,
      [inp(shape, 5)],
      (x) => x.flip(axes),
      gatherRef(
        shape,
        shape,
        (idx) => idx.map((v, i) => (list.includes(i) ? shape[i] - 1 - v : v)),
      ),
    );
  }
});

Deno.test("expand: size-1 axes and new leading axes", async () => {
  await setup();
  for (
    const [from, to] of [
      [[3, 1, 5], [2, 3, 4, 5]],
      [[5], [4, 5]],
      [[1], [3, 7]],
      [[], [2, 3]],
      [[2, 1], [2, 9]],
    ] as number[][][]
  ) {
    const off = to.length - from.length;
    await checkOp(
      `expand [${from}] → [${to}]`,
      [inp(from, 6)],
      (x) => x.expand(to),
      gatherRef(from, to, (idx) => from.map((d, k) => (d === 1 ? 0 : idx[k + off]))),
    );
  }
  const x = ag.zeros([3, 2]);
  assert.throws(() => x.expand([3, 4]), /cannot expand \[3,2\] to \[3,4\]/);
  x.dispose();
});

Deno.test("concat three inputs along the middle axis, and along the first and last", async () => {
  await setup();
  for (
    const [shapes, axis] of [
      [[[2, 3, 4], [2, 1, 4], [2, 5, 4]], 1],
      [[[2, 3], [4, 3], [1, 3]], 0],
      [[[3, 2], [3, 7], [3, 1]], -1],
    ] as [number[][], number][]
  ) {
    const a = axis < 0 ? axis + shapes[0].length : axis;
    const starts: number[] = [];
    let total = 0;
    for (const s of shapes) {
      starts.push(total);
      total += s[a];
    }
    const outShape = shapes[0].map((d, i) => (i === a ? total : d));
    await checkOp(
      `concat ${JSON.stringify(shapes)} axis ${axis}`,
      shapes.map((s, i) => inp(s, 10 + i)),
      (...xs) => ag.concat(xs, axis),
      (...xs) => {
        const out = new Float64Array(size(outShape));
        for (let i = 0; i < out.length; i++) {
          const idx = unravel(i, outShape);
          let part = shapes.length - 1;
          while (starts[part] > idx[a]) part--;
          const src = idx.map((v, k) => (k === a ? v - starts[part] : v));
          out[i] = xs[part][ravel(src, shapes[part])];
        }
        return out;
      },
    );
  }
});

Deno.test("concat checks shapes", async () => {
  await setup();
  const a = ag.zeros([2, 3]), b = ag.zeros([3, 3]);
  assert.throws(() => ag.concat([a, b], 1), /differ off axis 1/);
  assert.throws(() => ag.concat([], 0), /no tensors/);
  a.dispose();
  b.dispose();
});

/** Index into [0, n) of padded coordinate `i` (before = padding in front) for each mode. */
function padSource(mode: "constant" | "reflect", i: number, before: number, n: number) {
  const j = i - before;
  if (mode === "constant") return j >= 0 && j < n ? j : null;
  if (j < 0) return -j;
  if (j >= n) return 2 * (n - 1) - j;
  return j;
}

Deno.test("pad constant and reflect, both sides, several dims", async () => {
  await setup();
  const cases: [number[], number[], "constant" | "reflect", number][] = [
    [[2, 5, 6], [2, 3, 1, 2], "constant", 0.75],
    [[2, 5, 6], [2, 3, 1, 2], "reflect", 0],
    [[3, 7], [0, 4], "reflect", 0],
    [[3, 7], [5, 0], "reflect", 0],
    [[4, 3, 5], [1, 1, 2, 2, 3, 0], "constant", -1.5],
    [[4, 3, 5], [4, 4, 2, 2], "reflect", 0],
    [[9], [0, 0], "constant", 0],
  ];
  for (const [shape, pads, mode, value] of cases) {
    const r = shape.length;
    const before = new Array<number>(r).fill(0), after = new Array<number>(r).fill(0);
    for (let p = 0; p < pads.length / 2; p++) {
      before[r - 1 - p] = pads[2 * p];
      after[r - 1 - p] = pads[2 * p + 1];
    }
    const outShape = shape.map((d, i) => d + before[i] + after[i]);
    await checkOp(
      `pad ${mode} [${shape}] ${JSON.stringify(pads)}`,
      [inp(shape, 20)],
      (x) => {
        const y = x.pad(pads, mode, value);
        assert.deepEqual(y.shape, outShape);
        return y;
      },
      gatherRef(shape, outShape, (idx) => {
        const src = idx.map((v, k) => padSource(mode, v, before[k], shape[k]));
        return src.some((s) => s === null) ? null : (src as number[]);
      }, value),
    );
  }
});

Deno.test("pad rejects bad arguments", async () => {
  await setup();
  const x = ag.zeros([2, 3]);
  assert.throws(() => x.pad([1]), /1 pad values for rank 2/);
  assert.throws(() => x.pad([1, 1, 1, 1, 1, 1]), /for rank 2/);
  assert.throws(() => x.pad([3, 0], "reflect"), /reflect padding 3 needs more than 3 samples/);
  assert.throws(() => x.pad([-1, 0]), /negative padding/);
  x.dispose();
});

Deno.test("movement ops compose: permute of a slice of a flip, gradient through all", async () => {
  await setup();
  const shape = [3, 6, 5];
  const st = strides(shape);
  await checkOp(
    "flip→slice→permute",
    [inp(shape, 30)],
    (x) => x.flip(1).slice(1, 1, 6, 2).permute([2, 0, 1]),
    (x) => {
      // out[c, a, j] = x[a, 5 - (1 + 2j), c] for j in 0..2
      const out = new Float64Array(5 * 3 * 3);
      for (let c = 0; c < 5; c++) {
        for (let a = 0; a < 3; a++) {
          for (let j = 0; j < 3; j++) {
            out[(c * 3 + a) * 3 + j] = x[a * st[0] + (4 - 2 * j) * st[1] + c];
          }
        }
      }
      return out;
    },
  );
});
