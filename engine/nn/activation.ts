/**
 * Activation layers (no parameters), for use in {@link Sequential}: each is one unary op of the
 * op table ({@link ActivationLayer.activation}), so that `Sequential` can hand it to the layer
 * before it when that layer applies an activation in its own kernel ({@link fusesActivation}).
 * @module
 */
import "../methods.ts";
import type { Activation } from "../ops/bias_act.ts";
import { unary } from "../ops/unary.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** A layer that is one activation: y = f(x) for unary op `activation.op` of the op table. */
export class ActivationLayer extends Module {
  constructor(readonly activation: Activation) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return unary(this.activation.op, x, this.activation.alpha);
  }
}

/**
 * A layer whose kernel can apply an activation after its own output (the bias and activation
 * epilogue of the convolutions and of `linear`): `forwardWithActivation(x, f)` = f(forward(x)),
 * in one dispatch forward and with one fused kernel for f' and the bias gradient backward.
 */
export interface ActivationFusing {
  forwardWithActivation(x: Tensor, activation: Activation): Tensor;
}

/** Whether `m` can apply an activation in its own kernel. */
export function fusesActivation(m: Module): m is Module & ActivationFusing {
  return typeof (m as Partial<ActivationFusing>).forwardWithActivation === "function";
}

/** GELU with the exact erf form (PyTorch's default). */
export class GELU extends ActivationLayer {
  constructor() {
    super({ op: "gelu" });
  }
}

/** max(x, 0). */
export class ReLU extends ActivationLayer {
  constructor() {
    super({ op: "relu" });
  }
}

/** x for x > 0, `negativeSlope · x` otherwise. */
export class LeakyReLU extends ActivationLayer {
  constructor(readonly negativeSlope = 0.01) {
    super({ op: "leakyRelu", alpha: negativeSlope });
  }
}

/** tanh(x). */
export class Tanh extends ActivationLayer {
  constructor() {
    super({ op: "tanh" });
  }
}

/** 1 / (1 + e^(−x)). */
export class Sigmoid extends ActivationLayer {
  constructor() {
    super({ op: "sigmoid" });
  }
}
