/**
 * The Tensor (an f32 array in a pooled GPU buffer, always contiguous, row-major) and the
 * reverse-mode autograd core: the graph each op records, `backward()`, `noGrad`, and the
 * scopes (`tidy`) that give buffers back to the pool. Ops live in `engine/ops/`; of kernels this
 * file knows only the primitives it needs itself — fill (poisoning, the seed gradient),
 * elementwise add (accumulation) and copy — imported directly from their raw-buffer
 * dispatchers, so the core works without any op module loaded.
 * @module
 */
import { rt } from "./runtime.ts";
import { fillBuffer } from "./ops/fill_kernel.ts";
import { dispatchBinary, dispatchUnary } from "./ops/elementwise_kernels.ts";

/** A tensor shape: sizes of each dimension, outermost first. */
export type Shape = readonly number[];

/** How an op pushes its output's gradient back to its inputs. */
export interface GradFn {
  /** The op's name, for error messages. */
  name: string;
  /** The op's inputs, in the order `backward` returns their gradients. */
  inputs: Tensor[];
  /** Gradients w.r.t. each input (null where an input needs none), shaped like the inputs. */
  backward(gradOutput: Tensor): (Tensor | null)[];
}

/** Options for creating a tensor. */
export interface TensorOptions {
  requiresGrad?: boolean;
}

class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer) {}
}

/** Number of elements of a shape. */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

// ---- grad mode ----
let noGradDepth = 0;
/** Runs `fn` without recording the autograd graph (inference, optimizer steps). */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}
/** Whether ops currently record the graph. */
export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

// ---- scopes ----
const scopeStack: Set<Tensor>[] = [];

function collectTensors(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 4 || value == null) return;
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) { for (const v of value) collectTensors(v, out, depth + 1); }
  else if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
  }
}

function endScope(scope: Set<Tensor>, result: unknown): void {
  scopeStack.pop();
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  const parent = scopeStack[scopeStack.length - 1];
  for (const t of scope) {
    if (keep.has(t)) parent?.add(t);
    else t.dispose();
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (in a value,
 * array or plain object) and those marked with `keep()`. Works with sync and async functions.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopeStack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    endScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        endScope(scope, v);
        return v;
      },
      (e) => {
        endScope(scope, undefined);
        throw e;
      },
    ) as T;
  }
  endScope(scope, result);
  return result;
}

/** An f32 tensor on the GPU. */
export class Tensor {
  readonly shape: number[];
  readonly size: number;
  requiresGrad: boolean;
  /** Gradient accumulated by `backward()` (leaf tensors only). */
  grad: Tensor | null = null;
  /** How this tensor was computed (null for leaves and under `noGrad`). */
  gradFn: GradFn | null = null;
  #storage: Storage | null;

  private constructor(storage: Storage, shape: Shape, requiresGrad: boolean) {
    this.#storage = storage;
    this.shape = [...shape];
    this.size = numel(shape);
    this.requiresGrad = requiresGrad;
    scopeStack[scopeStack.length - 1]?.add(this);
  }

  /** Wraps an existing buffer (takes ownership). */
  static fromBuffer(buffer: GPUBuffer, shape: Shape, opts: TensorOptions = {}): Tensor {
    return new Tensor(new Storage(buffer), shape, opts.requiresGrad ?? false);
  }

  /**
   * A new tensor with uninitialised contents (NaN-poisoned when the runtime's `poisonOutputs`
   * is on, as in tests).
   */
  static empty(shape: Shape): Tensor {
    const n = numel(shape);
    const runtime = rt();
    const buffer = runtime.allocate(Math.max(4, n * 4));
    if (runtime.poisonOutputs && n > 0) fillBuffer(buffer, n, NaN);
    return Tensor.fromBuffer(buffer, shape);
  }

  /** A tensor holding a copy of `data`. */
  static fromArray(data: ArrayLike<number>, shape: Shape, opts: TensorOptions = {}): Tensor {
    const n = numel(shape);
    if (data.length !== n) {
      throw new Error(`tensor: ${data.length} values do not fill shape [${shape}] (${n})`);
    }
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    const buffer = rt().allocate(Math.max(4, n * 4));
    if (n > 0) rt().upload(buffer, f32);
    return new Tensor(new Storage(buffer), shape, opts.requiresGrad ?? false);
  }

  /** A tensor that shares this one's storage under another shape (no copy). */
  view(shape: Shape): Tensor {
    const s = this.#live();
    if (numel(shape) !== this.size) {
      throw new Error(`view: cannot view [${this.shape}] as [${shape}]`);
    }
    s.refs++;
    return new Tensor(s, shape, false);
  }

  #live(): Storage {
    if (!this.#storage) throw new Error(`tensor [${this.shape}] used after dispose()`);
    return this.#storage;
  }

  /** The GPU buffer holding the data (row-major, contiguous, f32). */
  get buffer(): GPUBuffer {
    return this.#live().buffer;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.#storage === null;
  }

  /** Gives the buffer back to the pool (when no other view uses it). Idempotent. */
  dispose(): void {
    const s = this.#storage;
    if (!s) return;
    this.#storage = null;
    if (--s.refs === 0) rt().release(s.buffer);
    this.gradFn = null;
  }

  /** Exempts this tensor from the enclosing `tidy` scopes; returns it. */
  keep(): this {
    for (const s of scopeStack) s.delete(this);
    return this;
  }

  /** Reads the values back to the CPU (waits for the GPU). */
  async toArray(): Promise<Float32Array> {
    if (this.size === 0) return new Float32Array(0);
    const bytes = await rt().readBuffer(this.buffer, this.size * 4);
    return new Float32Array(bytes);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements, not 1`);
    return (await this.toArray())[0];
  }

  /**
   * Back-propagates from this tensor: accumulates d(this)/d(leaf) into `leaf.grad` for every
   * leaf that requires grad. `gradient` defaults to ones (so `loss.backward()` for a scalar).
   * Synchronous like every op: it records the gradient kernels, and reading a gradient back
   * (`await x.grad!.toArray()`) waits for them.
   */
  backward(gradient?: Tensor): void {
    noGrad(() => {
      const seed = gradient ?? onesLike(this);
      const order = topoOrder(this);
      const grads = new Map<Tensor, Tensor>([[this, seed]]);
      // The caller's `gradient` stays the caller's: a leaf reached by it gets a copy.
      const assigned = new Set<Tensor>(gradient ? [gradient] : []);
      for (let i = order.length - 1; i >= 0; i--) {
        const node = order[i];
        const g = grads.get(node);
        if (!g) continue;
        grads.delete(node);
        if (!node.gradFn) {
          if (!node.requiresGrad) continue;
          // A gradient tensor can reach two leaves (e.g. through `add`): give each its own.
          const own = assigned.has(g) ? copyTensor(g) : g;
          assigned.add(own);
          const prev = node.grad;
          node.grad = (prev ? addTensors(prev, own) : own).keep();
          if (prev) prev.dispose();
          continue;
        }
        const inputGrads = node.gradFn.backward(g);
        node.gradFn.inputs.forEach((input, k) => {
          const gi = inputGrads[k];
          if (!gi || !input.requiresGrad) return;
          if (gi.shape.join() !== input.shape.join()) {
            throw new Error(
              `${node.gradFn!.name} backward: gradient [${gi.shape}] for input [${input.shape}]`,
            );
          }
          const prev = grads.get(input);
          grads.set(input, prev ? addTensors(prev, gi) : gi);
        });
      }
    });
  }
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep graphs (long unrolled loops) must not overflow the JS stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, k] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (k < inputs.length) {
      top[1]++;
      const next = inputs[k];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

// The kernels backward() runs itself, on raw buffers (it runs under noGrad: no graph).

/** a + b: two gradients of one tensor, so of one shape. */
function addTensors(a: Tensor, b: Tensor): Tensor {
  if (a.shape.join() !== b.shape.join()) {
    throw new Error(`backward: gradients [${a.shape}] and [${b.shape}] of one tensor differ`);
  }
  const out = Tensor.empty(a.shape);
  if (out.size > 0) {
    dispatchBinary("add", { a: a.buffer, b: b.buffer, y: out.buffer }, out.size, null);
  }
  return out;
}

/** Ones shaped like `t`: the default seed. */
function onesLike(t: Tensor): Tensor {
  const out = Tensor.empty(t.shape);
  if (out.size > 0) fillBuffer(out.buffer, out.size, 1);
  return out;
}

/** A copy of `t` in a new buffer. */
function copyTensor(t: Tensor): Tensor {
  const out = Tensor.empty(t.shape);
  if (out.size > 0) dispatchUnary("copy", t.buffer, out.buffer, out.size, 0);
  return out;
}

/**
 * Records `out` as computed from `inputs` by an op whose gradient is `backward`, when grad mode
 * is on and some input requires grad. Every op calls this right after its forward kernel.
 */
export function record(
  out: Tensor,
  name: string,
  inputs: Tensor[],
  backward: (g: Tensor) => (Tensor | null)[],
): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { name, inputs, backward };
  }
  return out;
}
