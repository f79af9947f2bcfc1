/**
 * The differentiable binary ops of the op table (engine/ops/elementwise_table.ts), with
 * NumPy/PyTorch broadcasting: one forward kernel; for the backward one kernel computing both
 * gradients in the output's shape (none for a derivative that is the constant 1, whose gradient
 * is the output's), each then summed over its input's broadcast axes.
 * @module
 */
import { type BinaryOp, binarySpec, DERIVATIVE_ONE, type Expression } from "./elementwise_table.ts";
import { type BroadcastLayout, dispatchBinary, dispatchBinaryGrad } from "./elementwise_kernels.ts";
import { record, Tensor } from "../tensor.ts";
import { broadcastShapes, broadcastStrides, checkRank, sumToShape } from "./broadcast.ts";

function layoutOf(a: Tensor, b: Tensor, shape: number[]): BroadcastLayout {
  if (a.shape.join() === b.shape.join()) return null;
  return {
    shape,
    aStrides: broadcastStrides(a.shape, shape),
    bStrides: broadcastStrides(b.shape, shape),
  };
}

/** The forward kernel alone (no graph): `out = op(a, b)` with broadcasting. */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  binarySpec(op);
  const shape = broadcastShapes(a.shape, b.shape);
  checkRank(op, shape);
  const out = Tensor.empty(shape);
  if (out.size === 0) return out;
  dispatchBinary(op, { a: a.buffer, b: b.buffer, y: out.buffer }, out.size, layoutOf(a, b, shape));
  return out;
}

/** Whether WGSL expression `e` reads variable `name`. */
function reads(e: Expression<unknown>, name: string): boolean {
  return new RegExp(`\\b${name}\\b`).test(e.wgsl);
}

/**
 * `op(a, b)` with broadcasting, recorded for autograd; an op declared without gradient (a
 * comparison) records nothing.
 */
export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const derivatives = binarySpec(op).derivatives;
  const out = binaryRaw(op, a, b);
  if (derivatives === null) return out;
  return record(out, op, [a, b], (g) => {
    const passA = derivatives.a === DERIVATIVE_ONE, passB = derivatives.b === DERIVATIVE_ONE;
    const needA = a.requiresGrad && !passA, needB = b.requiresGrad && !passB;
    const da = needA ? Tensor.empty(out.shape) : null;
    const db = needB ? Tensor.empty(out.shape) : null;
    if ((needA || needB) && out.size > 0) {
      const used = [...(needA ? [derivatives.a] : []), ...(needB ? [derivatives.b] : [])];
      // An operand no derivative reads is not bound (it may be disposed by now): dy stands in.
      const buffer = (t: Tensor, name: string) =>
        used.some((e) => reads(e, name)) ? t.buffer : g.buffer;
      dispatchBinaryGrad(
        op,
        {
          a: buffer(a, "a"),
          b: buffer(b, "b"),
          y: buffer(out, "y"),
          dy: g.buffer,
          da: da?.buffer ?? null,
          db: db?.buffer ?? null,
        },
        out.size,
        layoutOf(a, b, out.shape),
      );
    }
    return [
      a.requiresGrad ? sumToShape(da ?? g, a.shape) : null,
      b.requiresGrad ? sumToShape(db ?? g, b.shape) : null,
    ];
  });
}
