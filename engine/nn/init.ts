/**
 * Parameter initialisation drawn from the seeded GPU random streams of engine/random.ts, with
 * PyTorch's defaults: weights and biases of linear and convolution layers ~ U(−1/√fanIn,
 * 1/√fanIn) (what `kaiming_uniform_(a=√5)` reduces to).
 * @module
 */
import { defaultGenerator, Generator, rand } from "../random.ts";
import type { Shape, Tensor } from "../tensor.ts";

/** Where a layer draws its initial weights. */
export interface InitOptions {
  /** A fixed seed for this layer's draws (its own stream). */
  seed?: number;
  /** A stream to draw from (default: the engine's default generator). */
  generator?: Generator;
}

/** The stream a layer initialises from. */
export function initGenerator(opts: InitOptions): Generator {
  return opts.seed !== undefined ? new Generator(opts.seed) : opts.generator ?? defaultGenerator;
}

/** A tensor ~ U(−bound, bound) drawn from `generator`. */
export function uniformInit(shape: Shape, bound: number, generator: Generator): Tensor {
  return rand(shape, { low: -bound, high: bound, generator });
}
