/**
 * Layer computations as functions of tensors (the modules in this folder hold the parameters
 * and call these). `linear` has its own gradient so it never copies the transposed weight;
 * the norms are compositions of engine ops and take their gradients from them, except a layer
 * norm over one axis, which runs as the fused `layerNormLastAxis` (tested against the
 * composition).
 * @module
 */
import "../methods.ts";
import { layerNormLastAxis } from "../ops/layer_norm.ts";
import { matmulRaw } from "../ops/matmul.ts";
import { record, type Tensor } from "../tensor.ts";

/**
 * y = x · wᵀ + b with x [..., in], w [out, in] (PyTorch layout), b [out] or null.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const y = ag.linear(ag.randn([8, 3]), ag.randn([5, 3]), ag.zeros([5])); // [8, 5]
 * ```
 */
export function linear(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  if (w.ndim !== 2) throw new Error(`linear: weight must be [out, in], got [${w.shape}]`);
  const [outFeatures, inFeatures] = w.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inFeatures) {
    throw new Error(`linear: input [${x.shape}] does not end in ${inFeatures} features`);
  }
  if (b && (b.ndim !== 1 || b.shape[0] !== outFeatures)) {
    throw new Error(`linear: bias [${b.shape}] should be [${outFeatures}]`);
  }
  const rows = x.size / inFeatures;
  const x3 = x.view([1, rows, inFeatures]);
  const w3 = w.view([1, outFeatures, inFeatures]);
  const y3 = matmulRaw(x3, w3, false, true);
  const y = record(y3.view([...x.shape.slice(0, -1), outFeatures]), "linear", [x, w], (g) => {
    const g3 = g.view([1, rows, outFeatures]);
    return [
      x.requiresGrad ? matmulRaw(g3, w3).view(x.shape) : null,
      w.requiresGrad ? matmulRaw(g3, x3, true, false).view(w.shape) : null,
    ];
  });
  y3.dispose();
  return b ? y.add(b) : y;
}

function checkAffine(
  name: string,
  shape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
): void {
  for (const [what, t] of [["weight", weight], ["bias", bias]] as const) {
    if (t && t.shape.join() !== shape.join()) {
      throw new Error(`${name}: ${what} [${t.shape}] should be [${shape}]`);
    }
  }
}

/**
 * Layer normalisation over the last `normalizedShape.length` axes (biased variance, like
 * PyTorch), then `· weight + bias` when given (both shaped `normalizedShape`).
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const k = normalizedShape.length;
  if (k === 0 || k > x.ndim || x.shape.slice(-k).join() !== normalizedShape.join()) {
    throw new Error(`layerNorm: input [${x.shape}] does not end in [${normalizedShape}]`);
  }
  checkAffine("layerNorm", normalizedShape, weight, bias);
  // One axis (the usual case), with γ and β both or neither: the fused kernel.
  if (k === 1 && (weight === null) === (bias === null)) {
    return layerNormLastAxis(x, weight, bias, eps);
  }
  const axes = [...Array(k).keys()].map((i) => x.ndim - k + i);
  const centered = x.sub(x.mean(axes, true));
  const variance = centered.square().mean(axes, true);
  let y = centered.mul(variance.add(eps).sqrt().reciprocal());
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}

/**
 * Group normalisation of x [N, C, ...]: the C channels split into `groups` groups, each
 * normalised over its channels and all positions; then `· weight + bias` per channel ([C]).
 */
export function groupNorm(
  x: Tensor,
  groups: number,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  if (x.ndim < 2) throw new Error(`groupNorm: input [${x.shape}] should be [N, C, ...]`);
  const [n, c] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new Error(`groupNorm: ${c} channels do not split into ${groups} groups`);
  }
  checkAffine("groupNorm", [c], weight, bias);
  const grouped = x.reshape([n, groups, x.size / (n * groups)]);
  const centered = grouped.sub(grouped.mean(2, true));
  const variance = centered.square().mean(2, true);
  let y = centered.mul(variance.add(eps).sqrt().reciprocal()).reshape(x.shape);
  const perChannel = [1, c, ...x.shape.slice(2).map(() => 1)];
  if (weight) y = y.mul(weight.reshape(perChannel));
  if (bias) y = y.add(bias.reshape(perChannel));
  return y;
}
