/**
 * Tensors from values: `tensor`, `zeros`, `ones`, `full`, `zerosLike`, `onesLike`, `scalar`.
 * @module
 */
import { type Shape, Tensor, type TensorOptions } from "../tensor.ts";
import { fillBuffer } from "./fill_kernel.ts";

/** A tensor holding a copy of `data` with `shape` (default: 1-D). */
export function tensor(data: ArrayLike<number>, shape?: Shape, opts: TensorOptions = {}): Tensor {
  return Tensor.fromArray(data, shape ?? [data.length], opts);
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  const t = Tensor.empty(shape);
  if (t.size > 0) fillBuffer(t.buffer, t.size, value);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/** A tensor of zeros. */
export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

/** A tensor of ones. */
export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** Zeros shaped like `t`. */
export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0);
}

/** Ones shaped like `t`. */
export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1);
}

/** A 0-d tensor (shape []) holding `value`. */
export function scalar(value: number, opts: TensorOptions = {}): Tensor {
  return full([], value, opts);
}
