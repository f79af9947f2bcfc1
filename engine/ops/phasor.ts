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

const forwardKernel = new Kernel("phasor", source, "forward");
const backwardKernel = new Kernel("phasor_backward", source, "backward");

/** ε under the square root of the phase normalisation. */
export const PHASOR_EPS = 1e-8;

/**
 * x [..., 3] = (log-magnitude, a, b) per bin → complex [..., 2] (real, imaginary) =
 * e^{min(ℓ, maxLogMagnitude)} · (a, b) / √(a² + b² + ε), ready for `istft`. Differentiable
 * (the log-magnitude gets no gradient where it is capped).
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const head = ag.tensor([Math.log(2), 3, 4], [1, 3]); // |X| = 2, phase of (3, 4)
 * console.log(await ag.logMagnitudePhasor(head, 10).toArray()); // ≈ [1.2, 1.6]
 * ```
 */
export function logMagnitudePhasor(x: Tensor, maxLogMagnitude: number): Tensor {
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== 3) {
    throw new Error(`logMagnitudePhasor: input [${x.shape}] is not [..., 3] (log-magnitude, a, b)`);
  }
  if (!Number.isFinite(maxLogMagnitude)) {
    throw new Error(`logMagnitudePhasor: maxLogMagnitude ${maxLogMagnitude} is not finite`);
  }
  const bins = x.size / 3;
  const params = { bins, max_log_magnitude: maxLogMagnitude, eps: PHASOR_EPS };
  const out = Tensor.empty([...x.shape.slice(0, -1), 2]);
  if (bins > 0) {
    rt().dispatch(forwardKernel, { x: x.buffer, y: out.buffer }, params, grid1d(bins, 256));
  }
  return record(out, "logMagnitudePhasor", [x], (g) => {
    const dx = Tensor.empty(x.shape);
    if (bins > 0) {
      rt().dispatch(
        backwardKernel,
        { x: x.buffer, dy: g.buffer, dx: dx.buffer },
        params,
        grid1d(bins, 256),
      );
    }
    return [dx];
  });
}
