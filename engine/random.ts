/**
 * Seeded random tensors generated on the GPU (shaders/random.wgsl). A {@link Generator} is just
 * (seed, offset): each draw of n values uses elements offset…offset+n−1 and advances offset past
 * them, so saving the two numbers (e.g. in a checkpoint) is enough to resume the exact stream.
 * @module
 */
import source from "../shaders/random.wgsl" with { type: "text" };
import { Kernel } from "./kernel.ts";
import { grid1d, rt } from "./runtime.ts";
import { type Shape, Tensor, type TensorOptions } from "./tensor.ts";

const kernel = new Kernel("random", source);

/** State of a random stream. */
export interface GeneratorState {
  seed: number;
  offset: number;
}

/** A reproducible random stream. */
export class Generator {
  seed: number;
  offset: number;
  constructor(seed = 0, offset = 0) {
    this.seed = seed >>> 0;
    this.offset = offset;
  }
  /** The state to save. */
  state(): GeneratorState {
    return { seed: this.seed, offset: this.offset };
  }
  /** Restores a saved state. */
  setState(s: GeneratorState): void {
    this.seed = s.seed >>> 0;
    this.offset = s.offset;
  }
  /** Reserves `n` counters and returns the first. */
  take(n: number): number {
    const start = this.offset;
    // Element c owns hash counters 2c and 2c+1 for either distribution (shaders/random.wgsl),
    // so consecutive draws never share counters.
    this.offset = (this.offset + n) % 2 ** 31;
    return start;
  }
}

/** The default stream used when no seed or generator is given. */
export const defaultGenerator = new Generator(0x5eed);

/** Re-seeds the default stream. */
export function manualSeed(seed: number): void {
  defaultGenerator.setState({ seed, offset: 0 });
}

/** Options for random tensors. */
export interface RandomOptions extends TensorOptions {
  /** A fixed seed: the draw is the same every time. */
  seed?: number;
  /** The stream to draw from (default: {@link defaultGenerator}). */
  generator?: Generator;
}

function draw(
  shape: Shape,
  distribution: 0 | 1,
  a: number,
  b: number,
  opts: RandomOptions,
): Tensor {
  const out = Tensor.empty(shape);
  out.requiresGrad = opts.requiresGrad ?? false;
  const n = out.size;
  const gen = opts.seed !== undefined
    ? new Generator(opts.seed)
    : opts.generator ?? defaultGenerator;
  const offset = gen.take(n);
  if (n > 0) {
    rt().dispatch(
      kernel,
      { out: out.buffer },
      { n, seed: gen.seed, offset, a, b },
      grid1d(n, 256),
      {
        DISTRIBUTION: distribution,
      },
    );
  }
  return out;
}

/** Uniform samples in [low, high). */
export function rand(
  shape: Shape,
  opts: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  return draw(shape, 0, opts.low ?? 0, opts.high ?? 1, opts);
}

/** Normal samples with mean 0 and std 1 (or `mean`/`std`). */
export function randn(
  shape: Shape,
  opts: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  return draw(shape, 1, opts.mean ?? 0, opts.std ?? 1, opts);
}
