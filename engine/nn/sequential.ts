/**
 * `Sequential`: modules applied one after another, named "0", "1", … like PyTorch's.
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/**
 * Applies its layers in order.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const mlp = new ag.Sequential(
 *   new ag.Linear(2, 16, { seed: 1 }),
 *   new ag.GELU(),
 *   new ag.Linear(16, 1, { seed: 2 }),
 * );
 * const y = mlp.forward(ag.randn([8, 2])); // [8, 1]; parameters "0.weight", …, "2.bias"
 * ```
 */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => this.registerModule(String(i), m));
    this.layers = layers;
  }

  override forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }
}
