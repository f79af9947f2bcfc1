/**
 * `Adam` and `AdamW` (PyTorch's `torch.optim.Adam` / `AdamW` updates, without amsgrad): one
 * fused dispatch of shaders/adam.wgsl per parameter tensor updates the parameter and both moment
 * estimates in place. Step counts stay on the CPU and enter the kernel as bias-correction
 * uniforms, so a step needs no readback.
 * @module
 */
import source from "../../shaders/adam.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { zeros } from "../ops/creation.ts";
import { grid1d, rt } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { namedParams, type ParamsInput, zeroGrad } from "./optimizer.ts";

const kernel = new Kernel("adam", source);

/** Hyperparameters of {@link Adam} and {@link AdamW}. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Weight decay: L2 added to the gradient (Adam, default 0) or decoupled (AdamW, 0.01). */
  weightDecay?: number;
}

/** Saved state of one parameter: its update count and moment estimates (PyTorch's names). */
export interface AdamParamState {
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
}

/**
 * Saved optimizer state: hyperparameters and, per parameter name, its step count and moments.
 * The tensors are the optimizer's own: save them, do not dispose them.
 */
export interface AdamState {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  params: Map<string, AdamParamState>;
}

/**
 * Adam with L2 weight decay folded into the gradient (`torch.optim.Adam`).
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const model = new ag.Linear(4, 1, { seed: 1 });
 * const opt = new ag.Adam(model.namedParameters(), { lr: 1e-2 });
 * const x = ag.randn([16, 4], { seed: 2 });
 * for (let step = 0; step < 10; step++) {
 *   await ag.tidy(async () => {
 *     opt.zeroGrad();
 *     model.forward(x).square().mean().backward();
 *     opt.step();
 *   });
 * }
 * ```
 */
export class Adam {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  readonly params: Map<string, Tensor>;
  readonly #state = new Map<Tensor, AdamParamState>();
  /** AdamW decays the weights directly instead of adding to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(params: ParamsInput, opts: AdamOptions = {}) {
    this.params = namedParams(params);
    this.lr = opts.lr ?? 1e-3;
    this.betas = [...(opts.betas ?? [0.9, 0.999])];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? this.defaultWeightDecay();
    for (const [name, p] of this.params) {
      if (!p.requiresGrad) {
        throw new Error(`${this.constructor.name}: ${name} does not require grad`);
      }
    }
  }

  /** The weight decay when none is given. */
  protected defaultWeightDecay(): number {
    return 0;
  }

  /** Updates every parameter that has a gradient (parameters without one are skipped). */
  step(): void {
    const [beta1, beta2] = this.betas;
    for (const p of this.params.values()) {
      if (!p.grad) continue;
      if (p.grad.size !== p.size) {
        throw new Error(`${this.constructor.name}: grad [${p.grad.shape}] for param [${p.shape}]`);
      }
      const s = this.#stateOf(p);
      s.step++;
      if (p.size === 0) continue;
      rt().dispatch(
        kernel,
        { param: p.buffer, grad: p.grad.buffer, m: s.expAvg.buffer, v: s.expAvgSq.buffer },
        {
          n: p.size,
          step_size: this.lr / (1 - beta1 ** s.step),
          beta1,
          beta2,
          one_minus_beta1: 1 - beta1,
          one_minus_beta2: 1 - beta2,
          eps: this.eps,
          l2: this.decoupled ? 0 : this.weightDecay,
          decay: this.decoupled ? 1 - this.lr * this.weightDecay : 1,
          inv_sqrt_bc2: 1 / Math.sqrt(1 - beta2 ** s.step),
        },
        grid1d(Math.ceil(p.size / 4), 256), // one vec4 per invocation
      );
    }
  }

  #stateOf(p: Tensor): AdamParamState {
    let s = this.#state.get(p);
    if (!s) {
      s = { step: 0, expAvg: zeros(p.shape).keep(), expAvgSq: zeros(p.shape).keep() };
      this.#state.set(p, s);
    }
    return s;
  }

  /** Disposes the gradients of the optimised parameters. */
  zeroGrad(): void {
    zeroGrad(this.params.values());
  }

  /** Hyperparameters and per-parameter state (only parameters stepped at least once). */
  state(): AdamState {
    const params = new Map<string, AdamParamState>();
    for (const [name, p] of this.params) {
      const s = this.#state.get(p);
      if (s) params.set(name, { ...s });
    }
    return {
      lr: this.lr,
      betas: [...this.betas],
      eps: this.eps,
      weightDecay: this.weightDecay,
      params,
    };
  }

  /**
   * Restores a saved state (copying its tensors, which stay the caller's). Every name and
   * shape is checked first; an error names each offending entry and changes nothing.
   */
  loadState(state: AdamState): void {
    const problems: string[] = [];
    for (const [name, s] of state.params) {
      const p = this.params.get(name);
      if (!p) {
        problems.push(`unknown parameter ${name}`);
        continue;
      }
      for (const [what, t] of [["expAvg", s.expAvg], ["expAvgSq", s.expAvgSq]] as const) {
        if (t.shape.join() !== p.shape.join()) {
          problems.push(`${name}.${what} is [${t.shape}], parameter is [${p.shape}]`);
        }
      }
      if (!Number.isInteger(s.step) || s.step < 0) problems.push(`${name}.step is ${s.step}`);
    }
    if (problems.length) {
      throw new Error(`${this.constructor.name}.loadState: ${problems.join("; ")}`);
    }
    this.lr = state.lr;
    this.betas = [...state.betas];
    this.eps = state.eps;
    this.weightDecay = state.weightDecay;
    // Copy into fresh tensors before freeing the old ones: `state` may be this optimizer's own.
    const fresh = new Map<Tensor, AdamParamState>();
    for (const [name, s] of state.params) {
      const p = this.params.get(name)!;
      // Empty is enough: the copies below overwrite every element.
      const own = {
        step: s.step,
        expAvg: Tensor.empty(p.shape).keep(),
        expAvgSq: Tensor.empty(p.shape).keep(),
      };
      if (p.size > 0) {
        rt().copy(s.expAvg.buffer, 0, own.expAvg.buffer, 0, p.size * 4);
        rt().copy(s.expAvgSq.buffer, 0, own.expAvgSq.buffer, 0, p.size * 4);
      }
      fresh.set(p, own);
    }
    this.dispose();
    for (const [p, s] of fresh) this.#state.set(p, s);
  }

  /** Frees the moment estimates (the optimizer starts afresh on the next step). */
  dispose(): void {
    for (const s of this.#state.values()) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
    this.#state.clear();
  }
}

/**
 * Adam with decoupled weight decay (`torch.optim.AdamW`): p ← p·(1 − lr·wd) before the Adam
 * step. Default weight decay 0.01.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const model = new ag.Linear(4, 1, { seed: 1 });
 * const opt = new ag.AdamW(model.namedParameters(), { lr: 1e-3, weightDecay: 0.1 });
 * ```
 */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  protected override defaultWeightDecay(): number {
    return 0.01;
  }
}
