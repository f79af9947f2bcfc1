/**
 * Movement ops: reshape, permute/transpose, slice, flip, expand, concat and pad. All tensors are
 * contiguous, so every op but reshape is one strided copy (shaders/copy_strided.wgsl), and each
 * gradient is another movement op (slice ↔ pad, expand ↔ sum, permute ↔ inverse permute).
 * @module
 */
import source from "../../shaders/copy_strided.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { numel, record, type Shape, stridesOf, Tensor } from "../tensor.ts";
import { fillBuffer } from "./fill_kernel.ts";
import { checkRank, packRank, sumToShape } from "./broadcast.ts";

const kernel = new Kernel("copy_strided", source);

/** Copies the `shape`-sized region of `src` into `dst`, each addressed by offset and strides. */
export function stridedCopy(
  src: Tensor,
  srcOffset: number,
  srcStrides: readonly number[],
  dst: Tensor,
  dstOffset: number,
  dstStrides: readonly number[],
  shape: Shape,
): void {
  const n = numel(shape);
  if (n === 0) return;
  checkRank("strided copy", shape);
  rt().dispatch(kernel, { src: src.buffer, dst: dst.buffer }, {
    n,
    rank: shape.length,
    src_offset: srcOffset,
    dst_offset: dstOffset,
    shape: packRank(shape),
    src_strides: packRank(srcStrides),
    dst_strides: packRank(dstStrides),
  }, grid1d(n, 256));
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Same data, new shape (one dimension may be -1). No copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const resolved = shape.map((d) => (d === -1 ? x.size / Math.max(1, numel(known)) : d));
  if (numel(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape [${x.shape}] to [${shape}]`);
  }
  return record(x.view(resolved), "reshape", [x], (g) => [g.view(x.shape)]);
}

/** Reorders axes: out.shape[i] = x.shape[dims[i]]. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const rank = x.ndim;
  const axes = dims.map((d) => normAxis(d, rank));
  if (axes.length !== rank || new Set(axes).size !== rank) {
    throw new Error(`permute: [${dims}] is not a permutation of ${rank} axes`);
  }
  const shape = axes.map((a) => x.shape[a]);
  const inStrides = stridesOf(x.shape);
  const out = Tensor.empty(shape);
  stridedCopy(x, 0, axes.map((a) => inStrides[a]), out, 0, stridesOf(shape), shape);
  const inverse = new Array<number>(rank);
  axes.forEach((a, i) => inverse[a] = i);
  return record(out, "permute", [x], (g) => [permute(g, inverse)]);
}

/** Swaps two axes. */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const dims = [...Array(x.ndim).keys()];
  const a = normAxis(dim0, x.ndim);
  const b = normAxis(dim1, x.ndim);
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

/** Elements start, start+step, … (< end) along `axis`, like `x[..., start:end:step]`. */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normAxis(axis, x.ndim);
  const size = x.shape[a];
  if (step < 1 || !Number.isInteger(step)) {
    throw new Error(`slice: step ${step} must be a positive integer`);
  }
  const clampIndex = (i: number) => Math.min(size, Math.max(0, i < 0 ? i + size : i));
  const s = clampIndex(start);
  const e = clampIndex(end ?? size);
  const count = Math.max(0, Math.ceil((e - s) / step));
  const shape = x.shape.map((d, i) => (i === a ? count : d));
  const inStrides = stridesOf(x.shape);
  const out = Tensor.empty(shape);
  stridedCopy(
    x,
    s * inStrides[a],
    inStrides.map((st, i) => (i === a ? st * step : st)),
    out,
    0,
    stridesOf(shape),
    shape,
  );
  return record(out, "slice", [x], (g) => {
    const dx = zerosRaw(x.shape);
    stridedCopy(
      g,
      0,
      stridesOf(shape),
      dx,
      s * inStrides[a],
      inStrides.map((st, i) => (i === a ? st * step : st)),
      shape,
    );
    return [dx];
  });
}

function zerosRaw(shape: Shape): Tensor {
  const t = Tensor.empty(shape);
  if (t.size > 0) fillBuffer(t.buffer, t.size, 0);
  return t;
}

/** Reverses the order of elements along each axis in `axes`. */
export function flip(x: Tensor, axes: number | readonly number[]): Tensor {
  const list = (typeof axes === "number" ? [axes] : axes).map((d) => normAxis(d, x.ndim));
  const inStrides = stridesOf(x.shape);
  let offset = 0;
  const strides = inStrides.map((st, i) => {
    if (!list.includes(i)) return st;
    offset += (x.shape[i] - 1) * st;
    return -st;
  });
  const out = Tensor.empty(x.shape);
  stridedCopy(x, offset, strides, out, 0, inStrides, x.shape);
  return record(out, "flip", [x], (g) => [flip(g, list)]);
}

/** Broadcasts `x` to `shape` (NumPy rules), materialised. Gradient: sum over broadcast axes. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const offset = shape.length - x.ndim;
  if (offset < 0) throw new Error(`expand: cannot expand [${x.shape}] to fewer dims [${shape}]`);
  const own = stridesOf(x.shape);
  const strides = shape.map((d, i) => {
    const k = i - offset;
    if (k < 0) return 0;
    if (x.shape[k] === d) return own[k];
    if (x.shape[k] === 1) return 0;
    throw new Error(`expand: cannot expand [${x.shape}] to [${shape}]`);
  });
  const out = Tensor.empty(shape);
  stridedCopy(x, 0, strides, out, 0, stridesOf(shape), shape);
  return record(out, "expand", [x], (g) => [sumToShape(g, x.shape)]);
}

/** Joins tensors along `axis`; all other sizes must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error("concat: no tensors");
  const first = tensors[0];
  const a = normAxis(axis, first.ndim);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes [${first.shape}] and [${t.shape}] differ off axis ${axis}`);
    }
  }
  const shape = first.shape.map((
    d,
    i,
  ) => (i === a ? tensors.reduce((n, t) => n + t.shape[a], 0) : d));
  const out = Tensor.empty(shape);
  const outStrides = stridesOf(shape);
  const starts: number[] = [];
  let at = 0;
  for (const t of tensors) {
    starts.push(at);
    stridedCopy(t, 0, stridesOf(t.shape), out, at * outStrides[a], outStrides, t.shape);
    at += t.shape[a];
  }
  return record(
    out,
    "concat",
    [...tensors],
    (g) =>
      tensors.map((
        t,
        i,
      ) => (t.requiresGrad ? slice(g, a, starts[i], starts[i] + t.shape[a]) : null)),
  );
}

/** Padding mode of {@link pad}. */
export type PadMode = "constant" | "reflect";

/**
 * Pads the last dimensions, PyTorch `F.pad` style: `pads` = [lastBefore, lastAfter,
 * secondLastBefore, secondLastAfter, …]. "reflect" mirrors without repeating the edge sample.
 */
export function pad(
  x: Tensor,
  pads: readonly number[],
  mode: PadMode = "constant",
  value = 0,
): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim) {
    throw new Error(`pad: ${pads.length} pad values for rank ${x.ndim}`);
  }
  if (mode === "reflect") {
    let cur = x;
    for (let p = 0; p < pads.length / 2; p++) {
      const axis = x.ndim - 1 - p;
      const [before, after] = [pads[2 * p], pads[2 * p + 1]];
      const n = cur.shape[axis];
      if (before >= n || after >= n) {
        throw new Error(
          `pad: reflect padding ${Math.max(before, after)} needs more than ${n} samples`,
        );
      }
      const parts: Tensor[] = [];
      if (before > 0) parts.push(flip(slice(cur, axis, 1, before + 1), axis));
      parts.push(cur);
      if (after > 0) parts.push(flip(slice(cur, axis, n - 1 - after, n - 1), axis));
      cur = parts.length > 1 ? concat(parts, axis) : cur;
    }
    return cur;
  }
  const shape = [...x.shape];
  const begins = new Array<number>(x.ndim).fill(0);
  for (let p = 0; p < pads.length / 2; p++) {
    const axis = x.ndim - 1 - p;
    if (pads[2 * p] < 0 || pads[2 * p + 1] < 0) throw new Error("pad: negative padding");
    begins[axis] = pads[2 * p];
    shape[axis] += pads[2 * p] + pads[2 * p + 1];
  }
  const out = Tensor.empty(shape);
  fillBuffer(out.buffer, out.size, value);
  const outStrides = stridesOf(shape);
  const offset = begins.reduce((acc, b, i) => acc + b * outStrides[i], 0);
  stridedCopy(x, 0, stridesOf(x.shape), out, offset, outStrides, x.shape);
  return record(out, "pad", [x], (g) => {
    const dx = Tensor.empty(x.shape);
    stridedCopy(g, offset, outStrides, dx, 0, stridesOf(x.shape), x.shape);
    return [dx];
  });
}
