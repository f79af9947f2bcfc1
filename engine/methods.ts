/**
 * PyTorch-style methods on Tensor (`x.add(y)`, `x.matmul(w).relu().sum()`), each a thin alias of
 * the op function declared in `engine/ops/`. The elementwise methods are generated from the op
 * table (engine/ops/elementwise_table.ts), their types included; the rest are written out here.
 * Importing this module installs them.
 * @module
 */
import { binary } from "./ops/binary.ts";
import {
  BINARY_OPS,
  type BinaryOp,
  type BinaryOpSpec,
  UNARY_OPS,
  type UnaryOp,
  type UnaryOpSpec,
} from "./ops/elementwise_table.ts";
import { matmul } from "./ops/matmul.ts";
import {
  concat,
  expand,
  flip,
  pad,
  type PadMode,
  permute,
  reshape,
  slice,
  transpose,
} from "./ops/movement.ts";
import { logsumexp, max, mean, min, sum } from "./ops/reduce.ts";
import { unary } from "./ops/unary.ts";
import { Tensor } from "./tensor.ts";
import { scalar } from "./ops/creation.ts";

type UnaryTable = typeof UNARY_OPS;
type BinaryTable = typeof BINARY_OPS;

/** An op's method name: its `method` when it has one, none when `method: false`, else its own. */
type MethodName<Op extends string, Spec> = Spec extends { method: false } ? never
  : Spec extends { method: infer M extends string } ? M
  : Op;

/** The method of a unary op: its scalar is an argument, optional when the table gives a default. */
type UnaryMethod<Spec> = Spec extends { alpha: { default: number } } ? (alpha?: number) => Tensor
  : Spec extends { alpha: object } ? (alpha: number) => Tensor
  : () => Tensor;

/** The method of a binary op: a number operand is taken where the op has a scalar form. */
type BinaryMethod<Spec> = Spec extends { scalar: object } ? (other: Tensor | number) => Tensor
  : (other: Tensor) => Tensor;

/** The Tensor methods generated from the unary ops of the table (`x.exp()`, `x.leakyRelu(0.2)`). */
export type UnaryMethods = {
  [Op in keyof UnaryTable as MethodName<Op, UnaryTable[Op]>]: UnaryMethod<UnaryTable[Op]>;
};

/** The Tensor methods generated from the binary ops of the table (`x.mul(y)`, `x.sub(1)`). */
export type BinaryMethods = {
  [Op in keyof BinaryTable as MethodName<Op, BinaryTable[Op]>]: BinaryMethod<BinaryTable[Op]>;
};

declare module "./tensor.ts" {
  interface Tensor extends UnaryMethods, BinaryMethods {
    /** x², as `pow(2)`. */
    square(): Tensor;
    sum(axis?: number | number[], keepdim?: boolean): Tensor;
    mean(axis?: number | number[], keepdim?: boolean): Tensor;
    max(axis?: number | number[], keepdim?: boolean): Tensor;
    min(axis?: number | number[], keepdim?: boolean): Tensor;
    logsumexp(axis?: number | number[], keepdim?: boolean): Tensor;
    matmul(other: Tensor): Tensor;
    reshape(shape: readonly number[]): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    slice(axis: number, start: number, end?: number, step?: number): Tensor;
    flip(axes: number | readonly number[]): Tensor;
    expand(shape: readonly number[]): Tensor;
    pad(pads: readonly number[], mode?: PadMode, value?: number): Tensor;
    /** A tensor sharing this one's values but cut from the graph. */
    detach(): Tensor;
  }
}

const p = Tensor.prototype;

p.square = function () {
  return unary("powScalar", this, 2);
};
p.sum = function (axis, keepdim) {
  return sum(this, axis, keepdim);
};
p.mean = function (axis, keepdim) {
  return mean(this, axis, keepdim);
};
p.max = function (axis, keepdim) {
  return max(this, axis, keepdim);
};
p.min = function (axis, keepdim) {
  return min(this, axis, keepdim);
};
p.logsumexp = function (axis, keepdim) {
  return logsumexp(this, axis, keepdim);
};
p.matmul = function (o) {
  return matmul(this, o);
};
p.reshape = function (shape) {
  return reshape(this, shape);
};
p.permute = function (dims) {
  return permute(this, dims);
};
p.transpose = function (d0, d1) {
  return transpose(this, d0, d1);
};
p.slice = function (axis, start, end, step) {
  return slice(this, axis, start, end, step);
};
p.flip = function (axes) {
  return flip(this, axes);
};
p.expand = function (shape) {
  return expand(this, shape);
};
p.pad = function (pads, mode, value) {
  return pad(this, pads, mode, value);
};
p.detach = function () {
  return this.view(this.shape);
};

/** Installs method `name`; an op whose name is taken (by another op or a method above) throws. */
function install(name: string, method: (this: Tensor, ...args: never[]) => Tensor): void {
  if (Object.hasOwn(p, name)) throw new Error(`Tensor method '${name}' is declared twice`);
  Object.defineProperty(p, name, { value: method, writable: true, configurable: true });
}

for (const [op, spec] of Object.entries(UNARY_OPS) as [UnaryOp, UnaryOpSpec][]) {
  if (spec.method === false) continue;
  install(spec.method ?? op, function (this: Tensor, alpha?: number) {
    return unary(op, this, spec.alpha ? alpha : undefined);
  });
}

for (const [op, spec] of Object.entries(BINARY_OPS) as [BinaryOp, BinaryOpSpec][]) {
  if (spec.method === false) continue;
  const scalarForm = spec.scalar;
  install(op, function (this: Tensor, other: Tensor | number) {
    if (typeof other !== "number") return binary(op, this, other);
    if (!scalarForm) {
      throw new Error(`${op}: the operand must be a Tensor, got the number ${other}`);
    }
    return unary(scalarForm.op, this, scalarForm.alpha(other));
  });
}

export { concat, scalar };
