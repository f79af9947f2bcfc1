/**
 * `clipGradNorm`: scales gradients so that their global L2 norm is at most `maxNorm`
 * (`torch.nn.utils.clip_grad_norm_`), entirely on the GPU (shaders/grad_norm.wgsl): the norm
 * and the scale factor never visit the CPU, so a training step stays free of readbacks.
 * @module
 */
import source from "../../shaders/grad_norm.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { Tensor } from "../tensor.ts";

const sumSquares = new Kernel("grad_norm_sum_squares", source, "sum_squares");
const finalize = new Kernel("grad_norm_finalize", source, "finalize");
const scale = new Kernel("grad_norm_scale", source, "scale");

/** Most workgroups one tensor's sum of squares is split over. */
const MAX_GROUPS_PER_TENSOR = 64;
/** Elements each workgroup covers at least, so that small tensors use one workgroup. */
const ELEMENTS_PER_GROUP = 4096;

/**
 * Scales the gradients of `params` in place by min(1, maxNorm / (‖g‖ + 1e-6)), where ‖g‖ is the
 * L2 norm of all their gradients together; parameters without a gradient are skipped. Returns
 * ‖g‖ (before clipping) as a 0-d tensor; read it with `await norm.item()` only when needed.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const w = ag.randn([10], { seed: 1, requiresGrad: true });
 * w.mul(100).sum().backward();
 * const norm = ag.clipGradNorm([w], 1.0);
 * console.log(await norm.item()); // ≈ 316 (= 100·√10); w.grad now has norm 1
 * ```
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm ${maxNorm} must be positive`);
  const grads: Tensor[] = [];
  for (const p of params) if (p.grad && p.grad.size > 0) grads.push(p.grad);
  const groups = grads.map((g) =>
    Math.min(MAX_GROUPS_PER_TENSOR, Math.ceil(g.size / ELEMENTS_PER_GROUP))
  );
  const count = groups.reduce((a, b) => a + b, 0);
  const partials = Tensor.empty([Math.max(1, count)]);
  const norm = Tensor.empty([]);
  const coef = Tensor.empty([1]);
  const buffers = { partials: partials.buffer, norm: norm.buffer, coef: coef.buffer };
  let slot = 0;
  grads.forEach((g, k) => {
    rt().dispatch(sumSquares, { x: g.buffer, ...buffers }, {
      n: g.size,
      slot,
      count,
      max_norm: maxNorm,
    }, [groups[k]]);
    slot += groups[k];
  });
  // With no gradients, `x` is never read; any buffer satisfies the binding.
  rt().dispatch(finalize, { x: partials.buffer, ...buffers }, {
    n: 0,
    slot: 0,
    count,
    max_norm: maxNorm,
  }, [1]);
  // Two gradients may be views of one buffer (autograd can hand one tensor's storage to two
  // leaves): both count in the norm, but the buffer is scaled once.
  for (const buffer of new Set(grads.map((g) => g.buffer))) {
    const g = grads.find((t) => t.buffer === buffer)!;
    rt().dispatch(scale, { x: buffer, ...buffers }, {
      n: g.size,
      slot: 0,
      count,
      max_norm: maxNorm,
    }, grid1d(g.size, 256));
  }
  partials.dispose();
  coef.dispose();
  return norm;
}
