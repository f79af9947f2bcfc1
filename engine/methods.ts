/**
 * PyTorch-style methods on Tensor (`x.add(y)`, `x.matmul(w).relu().sum()`), each a thin alias of
 * the op function declared in `engine/ops/`. Importing this module installs them.
 * @module
 */
import { binary } from "./ops/binary.ts";
import { onesLike } from "./ops/creation.ts";
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
import { clone, unary } from "./ops/unary.ts";
import { registerCoreHelpers, Tensor } from "./tensor.ts";
import { scalar } from "./ops/creation.ts";

type Operand = Tensor | number;

declare module "./tensor.ts" {
  interface Tensor {
    add(other: Operand): Tensor;
    sub(other: Operand): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    pow(exponent: Operand): Tensor;
    maximum(other: Tensor): Tensor;
    minimum(other: Tensor): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    leakyRelu(slope?: number): Tensor;
    gelu(): Tensor;
    softplus(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
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
    clone(): Tensor;
    /** A tensor sharing this one's values but cut from the graph. */
    detach(): Tensor;
  }
}

const p = Tensor.prototype;
p.add = function (o) {
  return typeof o === "number" ? unary("addScalar", this, o) : binary("add", this, o);
};
p.sub = function (o) {
  return typeof o === "number" ? unary("addScalar", this, -o) : binary("sub", this, o);
};
p.mul = function (o) {
  return typeof o === "number" ? unary("mulScalar", this, o) : binary("mul", this, o);
};
p.div = function (o) {
  return typeof o === "number" ? unary("mulScalar", this, 1 / o) : binary("div", this, o);
};
p.pow = function (e) {
  return typeof e === "number" ? unary("powScalar", this, e) : binary("pow", this, e);
};
p.maximum = function (o) {
  return binary("maximum", this, o);
};
p.minimum = function (o) {
  return binary("minimum", this, o);
};
p.neg = function () {
  return unary("neg", this);
};
p.exp = function () {
  return unary("exp", this);
};
p.log = function () {
  return unary("log", this);
};
p.sqrt = function () {
  return unary("sqrt", this);
};
p.abs = function () {
  return unary("abs", this);
};
p.tanh = function () {
  return unary("tanh", this);
};
p.sigmoid = function () {
  return unary("sigmoid", this);
};
p.relu = function () {
  return unary("relu", this);
};
p.leakyRelu = function (slope = 0.01) {
  return unary("leakyRelu", this, slope);
};
p.gelu = function () {
  return unary("gelu", this);
};
p.softplus = function () {
  return unary("softplus", this);
};
p.square = function () {
  return unary("powScalar", this, 2);
};
p.reciprocal = function () {
  return unary("reciprocal", this);
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
p.clone = function () {
  return clone(this);
};
p.detach = function () {
  return this.view(this.shape);
};

registerCoreHelpers({ onesLike, copy: clone, add: (a, b) => binary("add", a, b) });

export { concat, scalar };
