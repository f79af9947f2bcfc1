/**
 * Building blocks of the mel VAE, each a small named module:
 *
 *   ResidualConvBlock  x + Conv1d(C→C, k1)(GELU(Conv1d(C→C, k3, dilation d)(GELU(x))))
 *
 * on channels-first sequences [B, C, T]. Pre-activation residual blocks add depth (and, with
 * growing dilations, context) to the encoder and decoder at a fixed time resolution without
 * changing their shapes. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";

/** x + pointwise(GELU(dilated k3 conv(GELU(x)))), shape-preserving on [B, C, T]. */
export class ResidualConvBlock extends ag.Module {
  readonly dilated: ag.Conv1d;
  readonly pointwise: ag.Conv1d;

  constructor(channels: number, dilation: number, generator: ag.Generator) {
    super();
    this.dilated = this.registerModule(
      "dilated",
      new ag.Conv1d(channels, channels, 3, { padding: dilation, dilation, generator }),
    );
    this.pointwise = this.registerModule(
      "pointwise",
      new ag.Conv1d(channels, channels, 1, { generator }),
    );
  }

  override forward(x: ag.Tensor): ag.Tensor {
    return x.add(this.pointwise.forward(this.dilated.forward(x.gelu()).gelu()));
  }
}

/** Dilation of the i-th residual block of a level: 1, 3, 9, 1, 3, 9, … */
export function blockDilation(i: number): number {
  return 3 ** (i % 3);
}
