/**
 * Layer normalisation over the last axis as one op (shaders/layer_norm.wgsl): one dispatch
 * forward, one for the input gradient (plus two row sums for γ and β), where the composition in
 * engine/nn/functional.ts records ten elementwise and reduction ops and about twenty in its
 * backward pass — 43 % of a vocoder training step's generator time on lavapipe. The composition
 * stays the definition: tests check this op against it and against finite differences.
 * @module
 */
import source from "../../shaders/layer_norm.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { sum } from "./reduce.ts";

const forwardKernel = new Kernel("layer_norm", source, "forward");
const backwardKernel = new Kernel("layer_norm_backward", source, "backward");

/**
 * (x − mean) / √(var + eps) over the last axis of x (biased variance, like PyTorch), then
 * `· weight + bias` when given (both [dim]; give both or neither). Differentiable in all three.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const y = ag.layerNormLastAxis(ag.randn([4, 16], { seed: 1 }), ag.ones([16]), ag.zeros([16]));
 * ```
 */
export function layerNormLastAxis(
  x: Tensor,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  if (x.ndim < 1) throw new Error("layerNormLastAxis: input must have at least one axis");
  const dim = x.shape[x.ndim - 1];
  if ((weight === null) !== (bias === null)) {
    throw new Error("layerNormLastAxis: give both weight and bias, or neither");
  }
  for (const [what, t] of [["weight", weight], ["bias", bias]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== dim)) {
      throw new Error(`layerNormLastAxis: ${what} [${t.shape}] should be [${dim}]`);
    }
  }
  const rows = dim === 0 ? 0 : x.size / dim;
  const affine = weight !== null;
  const params = { rows, dim, eps };
  const constants = { HAS_AFFINE: affine ? 1 : 0 };
  const out = Tensor.empty(x.shape);
  const stats = Tensor.empty([Math.max(1, rows), 2]);
  if (rows > 0) {
    rt().dispatch(
      forwardKernel,
      {
        x: x.buffer,
        gamma: (weight ?? x).buffer,
        beta: (bias ?? x).buffer,
        y: out.buffer,
        stats: stats.buffer,
      },
      params,
      grid1d(rows, 1),
      constants,
    );
  }
  const inputs = affine ? [x, weight!, bias!] : [x];
  const y = record(out, "layerNorm", inputs, (g) => {
    const dx = Tensor.empty(x.shape);
    const dyx = affine && weight!.requiresGrad ? Tensor.empty(x.shape) : Tensor.empty([1]);
    if (rows > 0) {
      rt().dispatch(
        backwardKernel,
        {
          x: x.buffer,
          gamma: (weight ?? x).buffer,
          dy: g.buffer,
          dx: dx.buffer,
          dyx: dyx.buffer,
          saved: stats.buffer,
        },
        params,
        grid1d(rows, 1),
        {
          HAS_AFFINE: affine ? 1 : 0,
          NEED_WEIGHT_GRAD: affine && weight!.requiresGrad ? 1 : 0,
        },
      );
    }
    if (!affine) return [dx];
    const lead = [...Array(x.ndim - 1).keys()];
    const dWeight = weight!.requiresGrad ? sum(dyx, lead) : null;
    if (!dWeight) dyx.dispose();
    return [dx, dWeight, bias!.requiresGrad ? sum(g, lead) : null];
  });
  // The statistics live as long as the graph needs them.
  if (!y.gradFn) stats.dispose();
  return y;
}
