/**
 * The differentiable unary ops of the op table (engine/ops/elementwise_table.ts): one forward
 * kernel, and for the backward dx = dy · f'(x) one kernel, or none when f' is the constant 1.
 * @module
 */
import { DERIVATIVE_ONE, type UnaryOp, unarySpec } from "./elementwise_table.ts";
import { dispatchUnary, dispatchUnaryGrad } from "./elementwise_kernels.ts";
import { record, Tensor } from "../tensor.ts";

/**
 * Applies unary op `op` to every element of `x`. `alpha` is the op's scalar: required for ops
 * that take one and have no default, refused by ops that take none.
 */
export function unary(op: UnaryOp, x: Tensor, alpha?: number): Tensor {
  const spec = unarySpec(op);
  if (spec.alpha === undefined && alpha !== undefined) {
    throw new Error(`unary op '${op}' takes no scalar, got ${alpha}`);
  }
  const a = alpha ?? spec.alpha?.default;
  if (spec.alpha !== undefined && a === undefined) {
    throw new Error(`unary op '${op}' needs its ${spec.alpha.name}`);
  }
  const scalar = a ?? 0;
  const out = Tensor.empty(x.shape);
  if (x.size > 0) dispatchUnary(op, x.buffer, out.buffer, x.size, scalar);
  return record(out, op, [x], (g) => {
    if (spec.derivative === DERIVATIVE_ONE) return [g];
    const dx = Tensor.empty(x.shape);
    if (x.size > 0) {
      dispatchUnaryGrad(
        op,
        { x: x.buffer, y: out.buffer, dy: g.buffer, dx: dx.buffer },
        x.size,
        scalar,
      );
    }
    return [dx];
  });
}

/** A copy of `x` in a new buffer (differentiable). */
export function clone(x: Tensor): Tensor {
  return unary("copy", x);
}
