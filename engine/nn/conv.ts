/**
 * Convolution layers over engine/ops/conv.ts, with PyTorch's weight layouts and initialisation:
 * `Conv1d` (weight [out, in/groups, k]), `ConvTranspose1d` (weight [in, out/groups, k]) and
 * `Conv2d` (weight [out, in/groups, kh, kw]); weights and biases ~ U(−1/√fanIn, 1/√fanIn) with
 * fanIn = weight.shape[1] · kernel size, as PyTorch computes it for both directions.
 * @module
 */
import type { Activation } from "../ops/bias_act.ts";
import { conv1d, conv2d, convTranspose1d } from "../ops/conv.ts";
import type { Tensor } from "../tensor.ts";
import { initGenerator, type InitOptions, uniformInit } from "./init.ts";
import { Module } from "./module.ts";

/** Options of {@link Conv1d}. */
export interface Conv1dLayerOptions extends InitOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/** Options of {@link ConvTranspose1d}. */
export interface ConvTranspose1dLayerOptions extends Conv1dLayerOptions {
  /** Extra samples at the end of the output (less than stride or dilation). */
  outputPadding?: number;
}

/** Options of {@link Conv2d}: a number applies to both axes, a pair is [height, width]. */
export interface Conv2dLayerOptions extends InitOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

function checkGroups(name: string, inChannels: number, outChannels: number, groups: number) {
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(
      `${name}: ${inChannels} in and ${outChannels} out channels must divide into ${groups} groups`,
    );
  }
}

/** Registers weight (and bias) ~ U(−1/√fanIn, 1/√fanIn). */
function initConv(
  register: (name: string, t: Tensor) => Tensor,
  weightShape: number[],
  biasSize: number,
  opts: InitOptions & { bias?: boolean },
): [Tensor, Tensor | null] {
  const gen = initGenerator(opts);
  const fanIn = weightShape.slice(1).reduce((a, b) => a * b, 1);
  const bound = 1 / Math.sqrt(fanIn);
  const weight = register("weight", uniformInit(weightShape, bound, gen));
  const bias = opts.bias ?? true ? register("bias", uniformInit([biasSize], bound, gen)) : null;
  return [weight, bias];
}

/**
 * 1-D convolution over x [N, inChannels, L].
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const conv = new ag.Conv1d(80, 64, 5, { padding: 2, seed: 1 });
 * const y = conv.forward(ag.randn([2, 80, 100])); // [2, 64, 100]
 * ```
 */
export class Conv1d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly opts: Conv1dLayerOptions = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    checkGroups("Conv1d", inChannels, outChannels, groups);
    [this.weight, this.bias] = initConv(
      (n, t) => this.registerParameter(n, t),
      [outChannels, inChannels / groups, kernelSize],
      outChannels,
      opts,
    );
  }

  override forward(x: Tensor): Tensor {
    return this.#conv(x);
  }

  /** activation(forward(x)), the activation applied in the convolution's epilogue. */
  forwardWithActivation(x: Tensor, activation: Activation): Tensor {
    return this.#conv(x, activation);
  }

  #conv(x: Tensor, activation?: Activation): Tensor {
    const { stride, padding, dilation, groups } = this.opts;
    return conv1d(x, this.weight, this.bias, { stride, padding, dilation, groups, activation });
  }
}

/**
 * 1-D transposed convolution over x [N, inChannels, L] (upsampling by `stride`).
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const up = new ag.ConvTranspose1d(32, 16, 4, { stride: 2, padding: 1, seed: 1 });
 * const y = up.forward(ag.randn([2, 32, 25])); // [2, 16, 50]
 * ```
 */
export class ConvTranspose1d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly opts: ConvTranspose1dLayerOptions = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    checkGroups("ConvTranspose1d", inChannels, outChannels, groups);
    [this.weight, this.bias] = initConv(
      (n, t) => this.registerParameter(n, t),
      [inChannels, outChannels / groups, kernelSize],
      outChannels,
      opts,
    );
  }

  override forward(x: Tensor): Tensor {
    return this.#conv(x);
  }

  /** activation(forward(x)), the activation applied in the convolution's epilogue. */
  forwardWithActivation(x: Tensor, activation: Activation): Tensor {
    return this.#conv(x, activation);
  }

  #conv(x: Tensor, activation?: Activation): Tensor {
    const { stride, padding, outputPadding, dilation, groups } = this.opts;
    return convTranspose1d(x, this.weight, this.bias, {
      stride,
      padding,
      outputPadding,
      dilation,
      groups,
      activation,
    });
  }
}

/**
 * 2-D convolution over x [N, inChannels, H, W].
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const conv = new ag.Conv2d(1, 8, 3, { padding: 1, seed: 1 });
 * const y = conv.forward(ag.randn([2, 1, 80, 40])); // [2, 8, 80, 40]
 * ```
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | readonly [number, number],
    readonly opts: Conv2dLayerOptions = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    checkGroups("Conv2d", inChannels, outChannels, groups);
    this.kernelSize = typeof kernelSize === "number"
      ? [kernelSize, kernelSize]
      : [kernelSize[0], kernelSize[1]];
    [this.weight, this.bias] = initConv(
      (n, t) => this.registerParameter(n, t),
      [outChannels, inChannels / groups, ...this.kernelSize],
      outChannels,
      opts,
    );
  }

  override forward(x: Tensor): Tensor {
    return this.#conv(x);
  }

  /** activation(forward(x)), the activation applied in the convolution's epilogue. */
  forwardWithActivation(x: Tensor, activation: Activation): Tensor {
    return this.#conv(x, activation);
  }

  #conv(x: Tensor, activation?: Activation): Tensor {
    const { stride, padding, dilation, groups } = this.opts;
    return conv2d(x, this.weight, this.bias, { stride, padding, dilation, groups, activation });
  }
}
