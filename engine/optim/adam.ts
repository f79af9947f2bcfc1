/**
 * `Adam` and `AdamW` (PyTorch's `torch.optim.Adam` / `AdamW` updates, without amsgrad): one
 * fused dispatch of shaders/adam.wgsl per parameter tensor updates the parameter and both moment
 * estimates in place. Step counts stay on the CPU and enter the kernel as bias-correction
 * uniforms, so a step needs no readback.
 *
 * A step may also be gated by the GPU (`step({ gate })`: applied only where gate[0] ≠ 0, e.g. a
 * training step whose loss and gradient norm the GPU found finite), so that a training loop
 * never waits for the CPU to decide. Each parameter's count of applied steps then lives on the
 * GPU until {@link Adam.syncSteps} reads it back (one readback for all parameters).
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

/** Options of {@link Adam.step}. */
export interface AdamStepOptions {
  /**
   * A one-element tensor: the update is applied to every parameter only if gate[0] ≠ 0, decided
   * on the GPU (no readback); a skipped update leaves parameters, moments and step counts as
   * they were. The step counts are then known after {@link Adam.syncSteps}.
   */
  gate?: Tensor;
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
  /**
   * Gated steps' counts on the GPU: u32 pairs, one per parameter (shaders/adam.wgsl), which
   * slot of each pair holds the count, and whether gated steps ran since the last sync (the
   * CPU counts are stale) or ungated ones did (the GPU counts are).
   */
  #gpuCounts: GPUBuffer | null = null;
  readonly #parity = new Map<Tensor, number>();
  #unsynced = false;
  #gpuCountsStale = true;

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

  /**
   * Updates every parameter that has a gradient (parameters without one are skipped); with
   * `gate`, only if gate[0] ≠ 0 (see {@link AdamStepOptions}).
   */
  step(opts: AdamStepOptions = {}): void {
    const gate = opts.gate ?? null;
    if (gate && gate.size !== 1) {
      throw new Error(`${this.constructor.name}: gate [${gate.shape}] must hold one value`);
    }
    if (!gate && this.#unsynced) {
      throw new Error(
        `${this.constructor.name}: an ungated step after gated ones needs their step counts: ` +
          "await syncSteps() first",
      );
    }
    const [beta1, beta2] = this.betas;
    const counts = gate ? this.#countsOnGpu() : null;
    const slots = [...this.params.values()];
    for (const p of this.params.values()) {
      if (!p.grad) continue;
      if (p.grad.size !== p.size) {
        throw new Error(`${this.constructor.name}: grad [${p.grad.shape}] for param [${p.shape}]`);
      }
      const s = this.#stateOf(p);
      if (gate) {
        this.#unsynced = true;
      } else {
        s.step++;
        this.#gpuCountsStale = true;
        if (p.size === 0) continue;
      }
      const parity = this.#parity.get(p) ?? 0;
      rt().dispatch(
        kernel,
        {
          param: p.buffer,
          grad: p.grad.buffer,
          m: s.expAvg.buffer,
          v: s.expAvgSq.buffer,
          // Ungated steps never read the gate: any live buffer will do (it is read-only).
          gate: (gate ?? p.grad).buffer,
          counts, // null on ungated steps, which never touch it (the runtime binds a stand-in)
        },
        {
          n: p.size,
          step_size: this.lr / (1 - beta1 ** Math.max(1, s.step)),
          beta1,
          beta2,
          one_minus_beta1: 1 - beta1,
          one_minus_beta2: 1 - beta2,
          eps: this.eps,
          l2: this.decoupled ? 0 : this.weightDecay,
          decay: this.decoupled ? 1 - this.lr * this.weightDecay : 1,
          inv_sqrt_bc2: 1 / Math.sqrt(1 - beta2 ** Math.max(1, s.step)),
          lr: this.lr,
          ln_beta1: Math.log(beta1),
          ln_beta2: Math.log(beta2),
          slot: slots.indexOf(p),
          parity,
        },
        grid1d(Math.max(1, Math.ceil(p.size / 4)), 256), // one vec4 per invocation
        { GATED: gate ? 1 : 0 },
      );
      if (gate) this.#parity.set(p, 1 - parity);
    }
  }

  /** The GPU step counts, uploaded from the CPU's when ungated steps (or a load) changed them. */
  #countsOnGpu(): GPUBuffer {
    const n = this.params.size;
    this.#gpuCounts ??= rt().allocate(Math.max(16, 8 * n));
    if (this.#gpuCountsStale) {
      const data = new Uint32Array(2 * n);
      [...this.params.values()].forEach((p, k) => {
        data[2 * k + (this.#parity.get(p) ?? 0)] = this.#state.get(p)?.step ?? 0;
      });
      rt().upload(this.#gpuCounts, data);
      this.#gpuCountsStale = false;
    }
    return this.#gpuCounts;
  }

  /**
   * Reads the step counts of gated steps back (one readback for all parameters), after which
   * {@link state} and ungated steps may be used again. Resolves at once when no gated step ran
   * since the last sync.
   */
  async syncSteps(): Promise<void> {
    if (!this.#unsynced || !this.#gpuCounts) return;
    const bytes = 8 * this.params.size;
    const counts = new Uint32Array(await rt().readBuffer(this.#gpuCounts, bytes));
    [...this.params.values()].forEach((p, k) => {
      const s = this.#state.get(p);
      if (s) s.step = counts[2 * k + (this.#parity.get(p) ?? 0)];
    });
    this.#unsynced = false;
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

  /**
   * Hyperparameters and per-parameter state (only parameters stepped at least once). After
   * gated steps, {@link syncSteps} must have read their counts back.
   */
  state(): AdamState {
    if (this.#unsynced) {
      throw new Error(
        `${this.constructor.name}.state: gated steps' counts are on the GPU: await syncSteps() first`,
      );
    }
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
    this.#unsynced = false;
    this.#gpuCountsStale = true;
  }

  /** Frees the moment estimates (the optimizer starts afresh on the next step). */
  dispose(): void {
    for (const s of this.#state.values()) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
    this.#state.clear();
    this.#gpuCountsStale = true;
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
