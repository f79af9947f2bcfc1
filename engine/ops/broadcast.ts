/**
 * NumPy/PyTorch broadcasting rules: the broadcast shape of two shapes, the strides of an operand
 * on the broadcast axes, and `sumToShape`, which undoes a broadcast in the backward pass; plus how
 * the strided kernels (binary, copy_strided, fused) receive a shape and strides: as MAX_RANK u32s.
 * @module
 */
import { type Shape, stridesOf, type Tensor } from "../tensor.ts";
import { sum } from "./reduce.ts";

/** Most axes the strided kernels take: their uniforms hold shape and strides as 8 u32s each. */
export const MAX_RANK = 8;

/** Throws naming `op` when `shape` has more axes than the strided kernels take. */
export function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) {
    throw new Error(`${op}: rank ${shape.length} > ${MAX_RANK} is not supported`);
  }
}

/** `values` (a shape or strides) zero-padded to MAX_RANK entries, as the kernels' uniforms hold them. */
export function packRank(values: readonly number[]): number[] {
  const out = new Array<number>(MAX_RANK).fill(0);
  values.forEach((v, i) => out[i] = v);
  return out;
}

/** The shape two shapes broadcast to; throws naming both when they cannot. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes [${a}] and [${b}] cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of a contiguous tensor of `shape` seen on the axes of `outShape` (0 where broadcast). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => {
    const k = i - offset;
    return k < 0 || shape[k] === 1 ? 0 : own[k];
  });
}

/** Sums `g` over the axes along which `shape` was broadcast to `g.shape`. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const offset = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    const k = i - offset;
    if (k < 0 || (shape[k] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const reduced = axes.length ? sum(g, axes, true) : g;
  return reduced.view(shape);
}
