/**
 * Normalisation layers: `LayerNorm` and `GroupNorm`, with PyTorch's defaults (eps 1e-5,
 * weight ones, bias zeros).
 * @module
 */
import { full } from "../ops/creation.ts";
import type { Tensor } from "../tensor.ts";
import { groupNorm, layerNorm } from "./functional.ts";
import { Module } from "./module.ts";

/** Options of the normalisation layers. */
export interface NormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-element (LayerNorm) or per-channel (GroupNorm) scale and shift (default true). */
  affine?: boolean;
}

/**
 * Normalises over the trailing `normalizedShape` axes.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const norm = new ag.LayerNorm([16]);
 * const y = norm.forward(ag.randn([4, 16])); // each row: mean 0, variance 1
 * ```
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: NormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number"
      ? [normalizedShape]
      : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter("weight", full(this.normalizedShape, 1)) : null;
    this.bias = affine ? this.registerParameter("bias", full(this.normalizedShape, 0)) : null;
  }

  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

/**
 * Normalises x [N, C, ...] per sample over groups of `numChannels / numGroups` channels.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const norm = new ag.GroupNorm(4, 32);
 * const y = norm.forward(ag.randn([2, 32, 50]));
 * ```
 */
export class GroupNorm extends Module {
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(readonly numGroups: number, readonly numChannels: number, opts: NormOptions = {}) {
    super();
    if (numChannels % numGroups !== 0) {
      throw new Error(`GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
    }
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter("weight", full([numChannels], 1)) : null;
    this.bias = affine ? this.registerParameter("bias", full([numChannels], 0)) : null;
  }

  override forward(x: Tensor): Tensor {
    if (x.shape[1] !== this.numChannels) {
      throw new Error(`GroupNorm: input [${x.shape}] should have ${this.numChannels} channels`);
    }
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}
