/**
 * `Module`: the base of every layer. A module owns named parameters (leaf tensors that require
 * grad), named buffers (state that is saved but not trained) and named child modules; names
 * join with dots (`encoder.0.weight`) exactly as PyTorch's `state_dict` spells them, so a
 * checkpoint written here reads the same in either place.
 * @module
 */
import { rt } from "../runtime.ts";
import type { Tensor } from "../tensor.ts";

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Refuse missing and unexpected keys (default true). Shape mismatches are always refused. */
  strict?: boolean;
}

/** What {@link Module.loadStateDict} did not match (only non-empty when `strict` is false). */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** A state dict: tensors by dotted name. */
export type StateDict = Map<string, Tensor> | Record<string, Tensor>;

/**
 * Base class of layers. Subclasses register what they own in the constructor and implement
 * `forward`.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * class Block extends ag.Module {
 *   readonly fc = this.registerModule("fc", new ag.Linear(4, 2, { seed: 1 }));
 *   override forward(x: ag.Tensor): ag.Tensor {
 *     return this.fc.forward(x).relu();
 *   }
 * }
 * const block = new Block();
 * console.log([...block.namedParameters().keys()]); // ["fc.weight", "fc.bias"]
 * ```
 */
export class Module {
  /** Training mode (true) or evaluation mode (false); see {@link train} and {@link eval}. */
  training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** Registers `tensor` as a trainable parameter: it requires grad and survives `tidy`. */
  protected registerParameter(name: string, tensor: Tensor): Tensor {
    this.#claim(name);
    tensor.requiresGrad = true;
    this.#parameters.set(name, tensor.keep());
    return tensor;
  }

  /** Registers `tensor` as saved, untrained state (e.g. running statistics). */
  protected registerBuffer(name: string, tensor: Tensor): Tensor {
    this.#claim(name);
    this.#buffers.set(name, tensor.keep());
    return tensor;
  }

  /** Registers a child module; its entries appear under `name.`. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#claim(name);
    this.#children.set(name, module);
    return module;
  }

  #claim(name: string): void {
    if (!name || name.includes(".")) {
      throw new Error(`${this.constructor.name}: invalid name '${name}' (empty or with a dot)`);
    }
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new Error(`${this.constructor.name}: '${name}' is already registered`);
    }
  }

  /** Computes the module's output. */
  forward(_x: Tensor): Tensor {
    throw new Error(`${this.constructor.name} does not implement forward()`);
  }

  /** Direct children, by name, in registration order. */
  namedChildren(): Map<string, Module> {
    return new Map(this.#children);
  }

  /** Every parameter of this module and its descendants, by dotted name, in registration order. */
  namedParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.#walk("", (prefix, m) => {
      for (const [k, t] of m.#parameters) out.set(prefix + k, t);
    });
    return out;
  }

  /** Every parameter (as {@link namedParameters}, without the names). */
  parameters(): Tensor[] {
    return [...this.namedParameters().values()];
  }

  /** Every buffer of this module and its descendants, by dotted name. */
  namedBuffers(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.#walk("", (prefix, m) => {
      for (const [k, t] of m.#buffers) out.set(prefix + k, t);
    });
    return out;
  }

  #walk(prefix: string, visit: (prefix: string, m: Module) => void): void {
    visit(prefix, this);
    for (const [name, child] of this.#children) child.#walk(`${prefix}${name}.`, visit);
  }

  /**
   * Parameters and buffers by dotted name. The tensors are the module's own (not copies):
   * read or save them, but do not dispose them.
   */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values from `state` into this module's parameters and buffers, in place (so an
   * optimizer holding them keeps working). Everything is checked before anything is copied:
   * a shape mismatch, and with `strict` (the default) a missing or unexpected key, throws an
   * error naming every offending key, and leaves the module unchanged.
   */
  loadStateDict(state: StateDict, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const source = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !source.has(k));
    const unexpectedKeys = [...source.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    for (const [k, dst] of own) {
      const src = source.get(k);
      if (src && src.shape.join() !== dst.shape.join()) {
        problems.push(`size mismatch for ${k}: checkpoint [${src.shape}], model [${dst.shape}]`);
      }
    }
    if (strict) {
      if (missingKeys.length) problems.push(`missing keys: ${missingKeys.join(", ")}`);
      if (unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.join(", ")}`);
    }
    if (problems.length) {
      throw new Error(
        `${this.constructor.name}.loadStateDict: ${problems.join("; ")} (nothing was loaded)`,
      );
    }
    for (const [k, dst] of own) {
      const src = source.get(k);
      if (src && src.buffer !== dst.buffer && dst.size > 0) {
        rt().copy(src.buffer, 0, dst.buffer, 0, dst.size * 4);
      }
    }
    return { missingKeys, unexpectedKeys };
  }

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    this.#walk("", (_, m) => m.training = mode);
    return this;
  }

  /** Sets evaluation mode (same as `train(false)`); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Disposes the gradients of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter, buffer and gradient; the module is unusable afterwards. */
  dispose(): void {
    this.zeroGrad();
    for (const t of this.stateDict().values()) t.dispose();
  }
}
