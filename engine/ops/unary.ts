/**
 * Elementwise unary ops, declared once in {@link UNARY_OPS}: each entry's code selects the
 * forward and derivative expressions in shaders/unary.wgsl, whose `backward` entry point gives
 * the gradient dx = dy · f'(x), so every op here is differentiable by construction.
 * @module
 */
import source from "../../shaders/unary.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";

/** Op name → OP code in shaders/unary.wgsl. */
export const UNARY_OPS = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  abs: 4,
  tanh: 5,
  sigmoid: 6,
  relu: 7,
  leakyRelu: 8,
  gelu: 9,
  softplus: 10,
  powScalar: 11,
  mulScalar: 12,
  addScalar: 13,
  copy: 14,
  reciprocal: 15,
} as const;

/** Name of a unary op. */
export type UnaryOp = keyof typeof UNARY_OPS;

const forwardKernel = new Kernel("unary", source, "main");
const backwardKernel = new Kernel("unary_backward", source, "backward");

/** Applies unary op `op` (with scalar `alpha` where the op takes one) to every element of `x`. */
export function unary(op: UnaryOp, x: Tensor, alpha = 0): Tensor {
  const out = Tensor.empty(x.shape);
  const OP = UNARY_OPS[op];
  if (x.size > 0) {
    rt().dispatch(
      forwardKernel,
      { x: x.buffer, out: out.buffer },
      { n: x.size, alpha },
      grid1d(x.size, 256),
      { OP },
    );
  }
  return record(out, op, [x], (g) => {
    const dx = Tensor.empty(x.shape);
    if (x.size > 0) {
      rt().dispatch(
        backwardKernel,
        { x: x.buffer, y: out.buffer, dy: g.buffer, dx: dx.buffer },
        { n: x.size, alpha },
        grid1d(x.size, 256),
        { OP },
      );
    }
    return [dx];
  });
}

/** A copy of `x` in a new buffer (differentiable). */
export function clone(x: Tensor): Tensor {
  return unary("copy", x);
}
