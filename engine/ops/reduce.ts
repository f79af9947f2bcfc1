/**
 * Reductions over axes (sum, mean, max, min, logsumexp) with `keepdim`, and their gradients.
 * Each run of adjacent reduced axes becomes one dispatch of shaders/reduce.wgsl over the view
 * [outer, r, inner]; long rows use a workgroup tree reduction, short rows one thread per output.
 * @module
 */
import source from "../../shaders/reduce.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { noGrad, numel, record, Tensor } from "../tensor.ts";
import { binary, binaryRaw } from "./binary.ts";
import { expand } from "./movement.ts";
import { unary } from "./unary.ts";

const REDUCE_OPS = { sum: 0, max: 1, min: 2 } as const;
type ReduceOp = keyof typeof REDUCE_OPS;

const perThread = new Kernel("reduce_per_thread", source, "per_thread");
const perWorkgroup = new Kernel("reduce_per_workgroup", source, "per_workgroup");

/** Rows at least this long get a whole workgroup each. */
const WORKGROUP_ROW_THRESHOLD = 512;

/** Normalises `axis` (number, list or undefined = all) to sorted, unique, non-negative axes. */
export function normalizeAxes(axis: number | number[] | undefined, rank: number): number[] {
  const list = axis === undefined ? [...Array(rank).keys()] : Array.isArray(axis) ? axis : [axis];
  const out = list.map((a) => {
    const k = a < 0 ? a + rank : a;
    if (k < 0 || k >= rank) throw new Error(`axis ${a} is out of range for rank ${rank}`);
    return k;
  });
  return [...new Set(out)].sort((p, q) => p - q);
}

/** One reduction over axes [start, end) of a contiguous tensor (no graph). */
function reduceRun(op: ReduceOp, x: Tensor, start: number, end: number): Tensor {
  const outer = numel(x.shape.slice(0, start));
  const r = numel(x.shape.slice(start, end));
  const inner = numel(x.shape.slice(end));
  const outShape = [
    ...x.shape.slice(0, start),
    ...x.shape.slice(start, end).map(() => 1),
    ...x.shape.slice(end),
  ];
  const out = Tensor.empty(outShape);
  const nOut = outer * inner;
  if (nOut === 0) return out;
  if (r >= WORKGROUP_ROW_THRESHOLD) {
    rt().dispatch(
      perWorkgroup,
      { x: x.buffer, out: out.buffer },
      { outer, r, inner },
      grid1d(nOut, 1),
      {
        OP: REDUCE_OPS[op],
      },
    );
  } else {
    rt().dispatch(
      perThread,
      { x: x.buffer, out: out.buffer },
      { outer, r, inner },
      grid1d(nOut, 256),
      {
        OP: REDUCE_OPS[op],
      },
    );
  }
  return out;
}

/** Reduces over `axes` (keeping them as size 1) without recording the graph. */
function reduceRaw(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  if (x.size === 0 && op !== "sum") throw new Error(`${op} of an empty tensor`);
  let cur = x;
  // Runs of adjacent axes, last run first, so earlier axis numbers stay valid.
  const runs: [number, number][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a) last[1] = a + 1;
    else runs.push([a, a + 1]);
  }
  for (let i = runs.length - 1; i >= 0; i--) {
    const next = reduceRun(op, cur, runs[i][0], runs[i][1]);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return cur === x ? unary("copy", x) : cur;
}

/** Sum over `axis` (all axes when omitted). */
export function sum(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = normalizeAxes(axis, x.ndim);
  const kept = reduceRaw("sum", x, axes);
  const keptGraph = record(kept, "sum", [x], (g) => [expand(g, x.shape)]);
  return keepdim ? keptGraph : reshapeKept(keptGraph, x.shape, axes);
}

function reshapeKept(kept: Tensor, shape: readonly number[], axes: number[]): Tensor {
  const squeezed = shape.filter((_, i) => !axes.includes(i));
  const out = kept.view(squeezed);
  return record(out, "squeeze", [kept], (g) => [g.view(kept.shape)]);
}

/** Mean over `axis` (all axes when omitted). */
export function mean(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = normalizeAxes(axis, x.ndim);
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  return unary("mulScalar", sum(x, axes, keepdim), 1 / count);
}

function extremum(
  op: "max" | "min",
  x: Tensor,
  axis: number | number[] | undefined,
  keepdim: boolean,
) {
  const axes = normalizeAxes(axis, x.ndim);
  const kept = reduceRaw(op, x, axes);
  const keptGraph = record(kept, op, [x], (g) => {
    // Gradient flows to every element equal to the extremum, split evenly among ties.
    const mask = binaryRaw("eq", x, expand(kept, x.shape));
    const count = reduceRaw("sum", mask, axes);
    return [binaryRaw("mul", mask, expand(binaryRaw("div", g, count), x.shape))];
  });
  return keepdim ? keptGraph : reshapeKept(keptGraph, x.shape, axes);
}

/** Maximum over `axis` (all axes when omitted). */
export function max(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  return extremum("max", x, axis, keepdim);
}

/** Minimum over `axis` (all axes when omitted). */
export function min(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  return extremum("min", x, axis, keepdim);
}

/** log Σ exp(x) over `axis`, computed as m + log Σ exp(x − m) with m the (constant) maximum. */
export function logsumexp(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = normalizeAxes(axis, x.ndim);
  const m = noGrad(() => reduceRaw("max", x, axes));
  const shifted = binary("sub", x, m);
  const s = sum(unary("exp", shifted), axes, true);
  const out = binary("add", unary("log", s), m);
  return keepdim ? out : reshapeKept(out, x.shape, axes);
}
