/**
 * Fused elementwise ops for the VAE's loss (shaders/fused.wgsl): the Gaussian and Laplace
 * negative log-likelihoods, the KL of a diagonal Gaussian to N(0, 1), and the reparameterisation
 * z = μ + e^{½·log σ²}·ε. Each forward is one dispatch and each backward one dispatch that writes
 * every input gradient needed (plus, for a broadcast log-scale, the `sumToShape` reduction),
 * where the same formulas built from unary/binary ops write and read back a full tensor per
 * step. Each op's shape rule, kernel and gradient sit together below; tests/engine/fused_test.ts
 * checks them against float64 references and finite differences.
 *
 * Shapes: `x`, `mean` (NLLs), `mu`, `logvar`, `eps` must match exactly; an NLL's `logScale`
 * broadcasts to x's shape under NumPy rules (any shape that does, rank <= 8: a scalar, the
 * VAE's global log-scale, and per-band [1, nMels, 1] included).
 *
 * @example
 * ```ts
 * import * as ag from "../../mod.ts";
 * await ag.init();
 * const x = ag.tensor([0.5, -1, 2], [3]);
 * const mean = ag.tensor([0, 0, 1], [3], { requiresGrad: true });
 * const logScale = ag.zeros([], { requiresGrad: true });
 * const loss = ag.fusedGaussianNll(x, mean, logScale).sum();
 * loss.backward();
 * console.log(await mean.grad!.toArray(), await logScale.grad!.item());
 * ```
 * @module
 */
import source from "../../shaders/fused.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { broadcastStrides, checkRank, packRank, sumToShape } from "./broadcast.ts";

/** NLL kind → NLL code in shaders/fused.wgsl. */
const NLL_KINDS = { gaussian: 0, laplace: 1 } as const;
type NllKind = keyof typeof NLL_KINDS;

const nllForward = new Kernel("fused_nll", source, "nll_forward");
const nllBackward = new Kernel("fused_nll_backward", source, "nll_backward");
const klForward = new Kernel("fused_kl", source, "kl_forward");
const klBackward = new Kernel("fused_kl_backward", source, "kl_backward");
const reparamForward = new Kernel("fused_reparameterize", source, "reparameterize_forward");
const reparamBackward = new Kernel(
  "fused_reparameterize_backward",
  source,
  "reparameterize_backward",
);

function assertSameShape(op: string, names: string[], tensors: Tensor[]): void {
  const shape = tensors[0].shape.join();
  tensors.forEach((t, k) => {
    if (t.shape.join() !== shape) {
      throw new Error(
        `${op}: ${names[k]} [${t.shape}] does not match ${names[0]} [${tensors[0].shape}]`,
      );
    }
  });
}

/** A 4-byte stand-in for a gradient output nobody needs (the kernel does not write it). */
function unused(): Tensor {
  return Tensor.empty([1]);
}

/** An output for input `t`'s gradient, or a stand-in when it needs none. */
function gradOutput(t: Tensor, shape: number[]): Tensor {
  return t.requiresGrad ? Tensor.empty(shape) : unused();
}

function nll(kind: NllKind, x: Tensor, mean: Tensor, logScale: Tensor): Tensor {
  const op = `${kind}Nll`;
  assertSameShape(op, ["x", "mean"], [x, mean]);
  const shape = x.shape;
  const fits = logScale.shape.length <= shape.length &&
    logScale.shape.every((d, k) =>
      d === 1 || d === shape[shape.length - logScale.shape.length + k]
    );
  if (!fits) {
    throw new Error(`${op}: logScale [${logScale.shape}] does not broadcast to x [${shape}]`);
  }
  checkRank(op, shape);
  const n = x.size;
  const LS_MODE = logScale.shape.join() === shape.join() ? 0 : logScale.size === 1 ? 1 : 2;
  const params = {
    n,
    rank: shape.length,
    shape: packRank(shape),
    ls_strides: packRank(broadcastStrides(logScale.shape, shape)),
  };
  const out = Tensor.empty(shape);
  if (n > 0) {
    rt().dispatch(
      nllForward,
      { x: x.buffer, mean: mean.buffer, log_scale: logScale.buffer, out: out.buffer },
      params,
      grid1d(n, 256),
      { NLL: NLL_KINDS[kind], LS_MODE },
    );
  }
  return record(out, op, [x, mean, logScale], (g) => {
    // Per element, all in x's shape; the log-scale's is summed back to its shape below.
    const dx = gradOutput(x, shape);
    const dmean = gradOutput(mean, shape);
    const dls = gradOutput(logScale, shape);
    if (n > 0) {
      rt().dispatch(
        nllBackward,
        {
          x: x.buffer,
          mean: mean.buffer,
          log_scale: logScale.buffer,
          dy: g.buffer,
          dx: dx.buffer,
          dmean: dmean.buffer,
          dlog_scale: dls.buffer,
        },
        params,
        grid1d(n, 256),
        {
          NLL: NLL_KINDS[kind],
          LS_MODE,
          NEED_X: x.requiresGrad ? 1 : 0,
          NEED_MEAN: mean.requiresGrad ? 1 : 0,
          NEED_LOG_SCALE: logScale.requiresGrad ? 1 : 0,
        },
      );
    }
    const grads = [
      x.requiresGrad ? dx : null,
      mean.requiresGrad ? dmean : null,
      logScale.requiresGrad ? sumToShape(dls, logScale.shape) : null,
    ];
    for (const t of [dx, dmean, dls]) if (!grads.includes(t)) t.dispose();
    return grads;
  });
}

/**
 * −log N(x; mean, e^{2·logScale}) per element: ½((x − mean)·e^{−logScale})² + logScale + ½·log 2π.
 * `mean` has x's shape; `logScale` broadcasts to it. Differentiable in all three.
 */
export function fusedGaussianNll(x: Tensor, mean: Tensor, logScale: Tensor): Tensor {
  return nll("gaussian", x, mean, logScale);
}

/**
 * −log Laplace(x; mean, b = e^{logScale}) per element: |x − mean|·e^{−logScale} + logScale + log 2.
 * `mean` has x's shape; `logScale` broadcasts to it. The gradient at x = mean is 0 (like abs).
 */
export function fusedLaplaceNll(x: Tensor, mean: Tensor, logScale: Tensor): Tensor {
  return nll("laplace", x, mean, logScale);
}

/**
 * KL(N(μ, e^{logvar}) ‖ N(0, 1)) per element: ½(μ² + e^{logvar} − 1 − logvar), computed without
 * cancellation near logvar = 0. `mu` and `logvar` have one shape.
 */
export function fusedKlStandardNormal(mu: Tensor, logvar: Tensor): Tensor {
  assertSameShape("klStandardNormal", ["mu", "logvar"], [mu, logvar]);
  const n = mu.size;
  const out = Tensor.empty(mu.shape);
  if (n > 0) {
    rt().dispatch(
      klForward,
      { mu: mu.buffer, logvar: logvar.buffer, out: out.buffer },
      { n },
      grid1d(n, 256),
    );
  }
  // d/dμ = μ, d/dlogvar = ½(e^{logvar} − 1).
  return record(out, "klStandardNormal", [mu, logvar], (g) => {
    const dmu = gradOutput(mu, mu.shape);
    const dlogvar = gradOutput(logvar, mu.shape);
    if (n > 0) {
      rt().dispatch(
        klBackward,
        {
          mu: mu.buffer,
          logvar: logvar.buffer,
          dy: g.buffer,
          dmu: dmu.buffer,
          dlogvar: dlogvar.buffer,
        },
        { n },
        grid1d(n, 256),
        { NEED_MU: mu.requiresGrad ? 1 : 0, NEED_LOGVAR: logvar.requiresGrad ? 1 : 0 },
      );
    }
    const grads = [mu.requiresGrad ? dmu : null, logvar.requiresGrad ? dlogvar : null];
    for (const t of [dmu, dlogvar]) if (!grads.includes(t)) t.dispose();
    return grads;
  });
}

/**
 * The reparameterisation z = μ + e^{½·logvar}·ε for a given sample ε (e.g. `randn`). `mu`,
 * `logvar` and `eps` have one shape; ε gets no gradient.
 */
export function fusedReparameterize(mu: Tensor, logvar: Tensor, eps: Tensor): Tensor {
  assertSameShape("reparameterize", ["mu", "logvar", "eps"], [mu, logvar, eps]);
  const n = mu.size;
  const out = Tensor.empty(mu.shape);
  if (n > 0) {
    rt().dispatch(
      reparamForward,
      { mu: mu.buffer, logvar: logvar.buffer, eps: eps.buffer, out: out.buffer },
      { n },
      grid1d(n, 256),
    );
  }
  // d/dμ = 1 (the incoming gradient itself), d/dlogvar = ½·ε·e^{½·logvar}.
  return record(out, "reparameterize", [mu, logvar], (g) => {
    if (!logvar.requiresGrad || n === 0) {
      return [g, logvar.requiresGrad ? Tensor.empty(mu.shape) : null];
    }
    const dlogvar = Tensor.empty(mu.shape);
    rt().dispatch(
      reparamBackward,
      { logvar: logvar.buffer, eps: eps.buffer, dy: g.buffer, dlogvar: dlogvar.buffer },
      { n },
      grid1d(n, 256),
    );
    return [g, dlogvar];
  });
}
