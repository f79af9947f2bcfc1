/**
 * `Sequential`: modules applied one after another, named "0", "1", … like PyTorch's.
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { ActivationLayer, fusesActivation } from "./activation.ts";
import { Module } from "./module.ts";

/**
 * Applies its layers in order. A layer that can apply an activation in its own kernel (a
 * convolution, `Linear`) followed by an activation layer runs as one fused op — the same
 * values, with fewer dispatches; the modules and their names stay as given.
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
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i];
      const next = this.layers[i + 1];
      if (next instanceof ActivationLayer && fusesActivation(layer)) {
        y = layer.forwardWithActivation(y, next.activation);
        i++;
      } else y = layer.forward(y);
    }
    return y;
  }
}
