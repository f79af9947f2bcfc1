/**
 * Elementwise binary ops with broadcasting, declared once in {@link BINARY_OPS} (code in
 * shaders/binary.wgsl) with their gradients written beside them as compositions of other ops.
 * @module
 */
import source from "../../shaders/binary.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { broadcastShapes, broadcastStrides, checkRank, packRank, sumToShape } from "./broadcast.ts";
import { unary } from "./unary.ts";

/** Op name → OP code in shaders/binary.wgsl. */
export const BINARY_OPS = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  minimum: 6,
  eq: 7,
  gt: 8,
} as const;

/** Name of a binary op. */
export type BinaryOp = keyof typeof BINARY_OPS;

const kernel = new Kernel("binary", source);

/** The forward kernel alone (no graph): `out = op(a, b)` with broadcasting. */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  checkRank(op, shape);
  const out = Tensor.empty(shape);
  if (out.size === 0) return out;
  const same = a.shape.join() === b.shape.join();
  rt().dispatch(
    kernel,
    { a: a.buffer, b: b.buffer, out: out.buffer },
    {
      n: out.size,
      rank: shape.length,
      shape: packRank(shape),
      a_strides: packRank(broadcastStrides(a.shape, shape)),
      b_strides: packRank(broadcastStrides(b.shape, shape)),
    },
    grid1d(out.size, 256),
    { OP: BINARY_OPS[op], SAME_SHAPE: same ? 1 : 0 },
  );
  return out;
}

/** Gradients of each op w.r.t. (a, b), before un-broadcasting; `out` is the forward result. */
const GRADIENTS: Partial<
  Record<BinaryOp, (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor, Tensor]>
> = {
  add: (g) => [g, g],
  sub: (g) => [g, unary("neg", g)],
  mul: (g, a, b) => [binaryRaw("mul", g, b), binaryRaw("mul", g, a)],
  div: (g, _a, b, out) => [
    binaryRaw("div", g, b),
    unary("neg", binaryRaw("div", binaryRaw("mul", g, out), b)),
  ],
  pow: (g, a, b, out) => [
    binaryRaw("mul", g, binaryRaw("mul", b, binaryRaw("pow", a, unary("addScalar", b, -1)))),
    binaryRaw("mul", g, binaryRaw("mul", out, unary("log", a))),
  ],
  // Ties split the gradient evenly, like torch.maximum.
  maximum: (g, a, b) => {
    const mask = tieSplitMask(a, b);
    return [
      binaryRaw("mul", g, mask),
      binaryRaw("mul", g, unary("addScalar", unary("neg", mask), 1)),
    ];
  },
  minimum: (g, a, b) => {
    const mask = tieSplitMask(b, a);
    return [
      binaryRaw("mul", g, mask),
      binaryRaw("mul", g, unary("addScalar", unary("neg", mask), 1)),
    ];
  },
};

function tieSplitMask(a: Tensor, b: Tensor): Tensor {
  return binaryRaw("add", binaryRaw("gt", a, b), unary("mulScalar", binaryRaw("eq", a, b), 0.5));
}

/** `op(a, b)` with broadcasting, recorded for autograd when the op has a gradient. */
export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw(op, a, b);
  const grad = GRADIENTS[op];
  if (!grad) return out;
  return record(out, op, [a, b], (g) => {
    const [ga, gb] = grad(g, a, b, out);
    return [
      a.requiresGrad ? sumToShape(ga, a.shape) : null,
      b.requiresGrad ? sumToShape(gb, b.shape) : null,
    ];
  });
}
