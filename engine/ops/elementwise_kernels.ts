/**
 * The elementwise kernels, built from the op table: fills the switch cases of
 * shaders/unary_functions.wgsl (prepended to shaders/unary.wgsl, and to the kernels with a fused
 * activation) and shaders/binary.wgsl from engine/ops/elementwise_table.ts (an op's code is its
 * position in the table, never written by hand) and dispatches them on raw buffers. No Tensor here, so the
 * autograd core (tensor.ts) can use `add` and `copy` for gradient accumulation without an import
 * cycle; the differentiable ops are in unary.ts and binary.ts.
 * @module
 */
import unaryFunctionsTemplate from "../../shaders/unary_functions.wgsl" with { type: "text" };
import unaryKernels from "../../shaders/unary.wgsl" with { type: "text" };
import binaryTemplate from "../../shaders/binary.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import {
  BINARY_OPS,
  type BinaryOpSpec,
  binarySpec,
  type Expression,
  UNARY_OPS,
  type UnaryOpSpec,
  unarySpec,
} from "./elementwise_table.ts";

/**
 * `template` with each line `// {{key}}` replaced by `fills[key]`; throws naming `file` when a
 * placeholder is missing or a fill has no placeholder.
 */
export function fillTemplate(
  file: string,
  template: string,
  fills: Record<string, string>,
): string {
  const used = new Set<string>();
  const out = template.replace(/^[ \t]*\/\/ \{\{([^}]+)\}\}[ \t]*$/gm, (_line, key: string) => {
    if (!Object.hasOwn(fills, key)) throw new Error(`${file}: no fill for placeholder {{${key}}}`);
    used.add(key);
    return fills[key];
  });
  for (const key of Object.keys(fills)) {
    if (!used.has(key)) throw new Error(`${file}: no placeholder {{${key}}} to fill`);
  }
  return out;
}

/** `case k: { return expr; }` for each op, k its position in the table. */
function cases(
  kind: string,
  table: Record<string, unknown>,
  what: string,
  expression: (op: string) => Expression<unknown> | undefined,
): string {
  return Object.keys(table).map((op, k) => {
    const e = expression(op);
    if (typeof e?.wgsl !== "string" || e.wgsl.trim() === "") {
      throw new Error(`${kind} op '${op}' declares no WGSL ${what}`);
    }
    return `    case ${k}u: { return ${e.wgsl}; }`;
  }).join("\n");
}

/**
 * shaders/unary_functions.wgsl with the forward and derivative cases of every op of `table`:
 * `forward(x, alpha)` and `derivative(x, y, alpha)` for a kernel to prepend (OP picks the op);
 * throws naming the op when an entry lacks either.
 */
export function unaryFunctionsSource(table: Record<string, UnaryOpSpec> = UNARY_OPS): string {
  return fillTemplate("shaders/unary_functions.wgsl", unaryFunctionsTemplate, {
    "forward cases": cases("unary", table, "forward", (op) => table[op].forward),
    "derivative cases": cases("unary", table, "derivative", (op) => table[op].derivative),
  });
}

/** The elementwise unary kernels (shaders/unary.wgsl) with the functions of `table` prepended. */
export function unarySource(table: Record<string, UnaryOpSpec> = UNARY_OPS): string {
  return `${unaryFunctionsSource(table)}\n${unaryKernels}`;
}

/** The op table's unary functions, for kernels with a fused activation (conv, matmul). */
export const UNARY_FUNCTIONS = unaryFunctionsSource();

/**
 * shaders/binary.wgsl with the forward and both derivative cases of every op of `table`; an op
 * declared without gradient (`derivatives: null`) gets no derivative case. Throws naming the op
 * when an entry lacks its forward, its `derivatives` or one of them.
 */
export function binarySource(table: Record<string, BinaryOpSpec> = BINARY_OPS): string {
  const derivativeCases = (side: "a" | "b") =>
    Object.entries(table).flatMap(([op, spec], k) => {
      if (spec.derivatives === undefined) {
        throw new Error(`binary op '${op}' declares no derivatives (null if it has no gradient)`);
      }
      if (spec.derivatives === null) return [];
      const e = spec.derivatives[side];
      if (typeof e?.wgsl !== "string" || e.wgsl.trim() === "") {
        throw new Error(`binary op '${op}' declares no WGSL derivative for ${side}`);
      }
      return [`    case ${k}u: { return ${e.wgsl}; }`];
    }).join("\n");
  return fillTemplate("shaders/binary.wgsl", binaryTemplate, {
    "forward cases": cases("binary", table, "forward", (op) => table[op].forward),
    "derivative_a cases": derivativeCases("a"),
    "derivative_b cases": derivativeCases("b"),
  });
}

const UNARY_SOURCE = `${UNARY_FUNCTIONS}\n${unaryKernels}`;
const BINARY_SOURCE = binarySource();
const unaryForward = new Kernel("unary", UNARY_SOURCE, "main");
const unaryBackward = new Kernel("unary_backward", UNARY_SOURCE, "backward");
const binaryForward = new Kernel("binary", BINARY_SOURCE, "main");
const binaryBackward = new Kernel("binary_backward", BINARY_SOURCE, "backward");

const UNARY_CODES = new Map(Object.keys(UNARY_OPS).map((op, k) => [op, k]));
const BINARY_CODES = new Map(Object.keys(BINARY_OPS).map((op, k) => [op, k]));

/** The kernel code (OP) of unary op `op`; throws naming it when the table has none. */
export function unaryCode(op: string): number {
  unarySpec(op);
  return UNARY_CODES.get(op)!;
}

/** The kernel code of binary op `op`; throws naming it when the table has none. */
function binaryCode(op: string): number {
  binarySpec(op);
  return BINARY_CODES.get(op)!;
}

/** Records y[i] = f(x[i]) for the first `n` elements; `alpha` is the op's scalar (0 if none). */
export function dispatchUnary(
  op: string,
  x: GPUBuffer,
  y: GPUBuffer,
  n: number,
  alpha: number,
): void {
  rt().dispatch(
    unaryForward,
    { x_buf: x, y_out: y },
    { n, alpha },
    grid1d(n, 256),
    { OP: unaryCode(op) },
  );
}

/** Records dx[i] = dy[i] · f'(x[i]) given y = f(x), for the first `n` elements. */
export function dispatchUnaryGrad(
  op: string,
  buffers: { x: GPUBuffer; y: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer },
  n: number,
  alpha: number,
): void {
  rt().dispatch(
    unaryBackward,
    { x_buf: buffers.x, y_buf: buffers.y, dy_buf: buffers.dy, dx_out: buffers.dx },
    { n, alpha },
    grid1d(n, 256),
    { OP: unaryCode(op) },
  );
}

/**
 * How a binary op's operands map onto its output: the output shape and each operand's strides
 * on its axes (0 where broadcast); null when a, b and the output share one shape.
 */
export type BroadcastLayout = { shape: number[]; aStrides: number[]; bStrides: number[] } | null;

function layoutParams(n: number, layout: BroadcastLayout) {
  // The kernel's uniforms hold 8 entries each; the parameter packer zero-fills the rest.
  return {
    n,
    rank: layout?.shape.length ?? 0,
    shape: layout?.shape ?? [],
    a_strides: layout?.aStrides ?? [],
    b_strides: layout?.bStrides ?? [],
  };
}

/** Records y = f(a, b) over `n` output elements laid out by `layout`. */
export function dispatchBinary(
  op: string,
  buffers: { a: GPUBuffer; b: GPUBuffer; y: GPUBuffer },
  n: number,
  layout: BroadcastLayout,
): void {
  rt().dispatch(
    binaryForward,
    { a_buf: buffers.a, b_buf: buffers.b, y_out: buffers.y },
    layoutParams(n, layout),
    grid1d(n, 256),
    { OP: binaryCode(op), SAME_SHAPE: layout ? 0 : 1 },
  );
}

/**
 * Records da = dy · ∂f/∂a and db = dy · ∂f/∂b, both in the output's shape, in one pass; a null
 * output is not written (the runtime binds a stand-in). Operands the derivatives never
 * read may be given as any live buffer of at least their size (binary.ts passes dy).
 */
export function dispatchBinaryGrad(
  op: string,
  buffers: {
    a: GPUBuffer;
    b: GPUBuffer;
    y: GPUBuffer;
    dy: GPUBuffer;
    da: GPUBuffer | null;
    db: GPUBuffer | null;
  },
  n: number,
  layout: BroadcastLayout,
): void {
  if (binarySpec(op).derivatives === null) throw new Error(`binary op '${op}' has no gradient`);
  if (!buffers.da && !buffers.db) return;
  rt().dispatch(
    binaryBackward,
    {
      a_buf: buffers.a,
      b_buf: buffers.b,
      y_buf: buffers.y,
      dy_buf: buffers.dy,
      da_out: buffers.da,
      db_out: buffers.db,
    },
    layoutParams(n, layout),
    grid1d(n, 256),
    {
      OP: binaryCode(op),
      SAME_SHAPE: layout ? 0 : 1,
      NEED_A: buffers.da ? 1 : 0,
      NEED_B: buffers.db ? 1 : 0,
    },
  );
}
