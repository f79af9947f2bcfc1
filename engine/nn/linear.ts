/**
 * `Linear`: y = x · wᵀ + b, PyTorch layout (weight [out, in]) and initialisation.
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { linear } from "./functional.ts";
import { initGenerator, type InitOptions, uniformInit } from "./init.ts";
import { Module } from "./module.ts";

/** Options of {@link Linear}. */
export interface LinearOptions extends InitOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * A fully connected layer over the last axis: [..., inFeatures] → [..., outFeatures].
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const fc = new ag.Linear(3, 2, { seed: 7 });
 * const y = fc.forward(ag.randn([4, 3])); // [4, 2]
 * ```
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const gen = initGenerator(opts);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter(
      "weight",
      uniformInit([outFeatures, inFeatures], bound, gen),
    );
    this.bias = opts.bias ?? true
      ? this.registerParameter("bias", uniformInit([outFeatures], bound, gen))
      : null;
  }

  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
