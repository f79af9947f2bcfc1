/**
 * Activation layers (no parameters), for use in {@link Sequential}.
 * @module
 */
import "../methods.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** GELU with the exact erf form (PyTorch's default). */
export class GELU extends Module {
  override forward(x: Tensor): Tensor {
    return x.gelu();
  }
}

/** max(x, 0). */
export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** x for x > 0, `negativeSlope · x` otherwise. */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}

/** tanh(x). */
export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/** 1 / (1 + e^(−x)). */
export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
