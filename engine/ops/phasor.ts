/**
 * `logMagnitudePhasor`: the spectral head of an iSTFT vocoder (Vocos), as one op. Each STFT bin
 * comes as (log-magnitude ℓ, a, b) and leaves as the complex value
 * e^{min(ℓ, maxLogMagnitude)} · (a, b) / √(a² + b² + ε): the phase is an unnormalised 2-vector,
 * so there is no wrap-around and no sin/cos. Composed from slices and elementwise ops it costs
 * three strided copies, a dozen elementwise passes and a concat over every bin, forward and back;
 * here it is one dispatch each way (shaders/phasor.wgsl).
 * @module
 */
import source from "../../shaders/phasor.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { reshape, slice } from "./movement.ts";

const forwardKernel = new Kernel("phasor", source, "forward");
const backwardKernel = new Kernel("phasor_backward", source, "backward");

/** ε under the square root of the phase normalisation. */
export const PHASOR_EPS = 1e-8;

/**
 * x [..., 3] = (log-magnitude, a, b) per bin → complex [..., 2] (real, imaginary) =
 * e^{min(ℓ + o, maxLogMagnitude)} · (a, b) / √(a² + b² + ε), ready for `istft`, where o is the
 * optional `offset` [...] (one log-magnitude per bin added to ℓ, e.g. a prior the head corrects;
 * 0 without). Differentiable in x and the offset (the log-magnitude gets no gradient where it is
 * capped).
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const head = ag.tensor([Math.log(2), 3, 4], [1, 3]); // |X| = 2, phase of (3, 4)
 * console.log(await ag.logMagnitudePhasor(head, 10).toArray()); // ≈ [1.2, 1.6]
 * ```
 */
export function logMagnitudePhasor(
  x: Tensor,
  maxLogMagnitude: number,
  offset: Tensor | null = null,
): Tensor {
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== 3) {
    throw new Error(`logMagnitudePhasor: input [${x.shape}] is not [..., 3] (log-magnitude, a, b)`);
  }
  if (offset && offset.shape.join() !== x.shape.slice(0, -1).join()) {
    throw new Error(
      `logMagnitudePhasor: offset [${offset.shape}] should be [${x.shape.slice(0, -1)}]`,
    );
  }
  if (!Number.isFinite(maxLogMagnitude)) {
    throw new Error(`logMagnitudePhasor: maxLogMagnitude ${maxLogMagnitude} is not finite`);
  }
  const bins = x.size / 3;
  const params = { bins, max_log_magnitude: maxLogMagnitude, eps: PHASOR_EPS };
  const constants = { HAS_OFFSET: offset ? 1 : 0 };
  const offsetBuffer = (offset ?? x).buffer;
  const out = Tensor.empty([...x.shape.slice(0, -1), 2]);
  if (bins > 0) {
    rt().dispatch(
      forwardKernel,
      { x: x.buffer, offset: offsetBuffer, y: out.buffer },
      params,
      grid1d(bins, 256),
      constants,
    );
  }
  return record(out, "logMagnitudePhasor", offset ? [x, offset] : [x], (g) => {
    const dx = Tensor.empty(x.shape);
    if (bins > 0) {
      rt().dispatch(
        backwardKernel,
        { x: x.buffer, offset: offsetBuffer, dy: g.buffer, dx: dx.buffer },
        params,
        grid1d(bins, 256),
        constants,
      );
    }
    // The offset's gradient is the log-magnitude's: column 0 of dx.
    const dOffset = offset?.requiresGrad ? reshape(slice(dx, -1, 0, 1), offset.shape) : null;
    return offset ? [dx, dOffset] : [dx];
  });
}
