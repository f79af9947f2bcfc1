/**
 * The ELBO of the mel VAE and its parts, as small named functions (shared by training, eval
 * and tests). Units: nats per mel frame (summed over the mel bands of a frame), averaged over
 * the batch; the KL per latent dimension is in nats per latent step.
 *
 *   ELBO = E_q[log p(x | z)] − KL(q(z | x) ‖ N(0, I))
 *   loss = −E_q[log p(x | z)] + β(step) · Σ_d max(KL_d, freeBits)   (free bits, KL warm-up)
 *
 * Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import type { ModelConfig, TrainConfig } from "./config.ts";
import type { MelVae } from "./model.ts";

/**
 * −log N(x; mean, e^{2·logScale}) per element: ½((x − mean)·e^{−logScale})² + logScale + ½·log 2π
 * (one fused kernel; `logScale` broadcasts to x's shape).
 */
export function gaussianNll(x: ag.Tensor, mean: ag.Tensor, logScale: ag.Tensor): ag.Tensor {
  return ag.fusedGaussianNll(x, mean, logScale);
}

/** −log Laplace(x; mean, b = e^{logScale}) per element (one fused kernel). */
export function laplaceNll(x: ag.Tensor, mean: ag.Tensor, logScale: ag.Tensor): ag.Tensor {
  return ag.fusedLaplaceNll(x, mean, logScale);
}

/** KL(N(μ, σ²) ‖ N(0, 1)) per element = ½(μ² + σ² − 1 − log σ²) (one fused kernel). */
export function klStandardNormal(mu: ag.Tensor, logvar: ag.Tensor): ag.Tensor {
  return ag.fusedKlStandardNormal(mu, logvar);
}

/** KL weight β: linear warm-up from 0 to 1 over `warmupSteps` (1 when warm-up is 0). */
export function klWeight(step: number, warmupSteps: number): number {
  return warmupSteps <= 0 ? 1 : Math.min(1, step / warmupSteps);
}

/** z = μ + σ·ε with ε ~ N(0, I) from `generator` (the reparameterisation trick). */
export function reparameterize(
  mu: ag.Tensor,
  logvar: ag.Tensor,
  generator: ag.Generator,
): ag.Tensor {
  const eps = ag.randn(mu.shape, { generator });
  return ag.fusedReparameterize(mu, logvar, eps);
}

/** The terms of one ELBO evaluation (all scalars but klPerDim and xHat). */
export interface ElboTerms {
  /** What training minimises: recon + β · free-bits KL. */
  loss: ag.Tensor;
  /** −log p(x | z) per frame. */
  recon: ag.Tensor;
  /** KL per frame (no free bits, no β). */
  kl: ag.Tensor;
  /** KL per latent dimension [latentDim], nats per latent step. */
  klPerDim: ag.Tensor;
  /** Decoder mean [B, nMels, T] (normalised). */
  xHat: ag.Tensor;
}

/** Per-element negative log-likelihood under the model's observation model. */
export function reconstructionNll(
  cfg: ModelConfig,
  x: ag.Tensor,
  xHat: ag.Tensor,
  logScale: ag.Tensor,
): ag.Tensor {
  return cfg.likelihood === "laplace"
    ? laplaceNll(x, xHat, logScale)
    : gaussianNll(x, xHat, logScale);
}

/**
 * ELBO terms of normalised frames x [B, nMels, T]. `sample`: draw z (training) or use z = μ
 * (evaluation of the reconstruction).
 */
export function elboTerms(
  model: MelVae,
  x: ag.Tensor,
  opts: { beta: number; freeBits: number; generator?: ag.Generator; sample: boolean },
): ElboTerms {
  const [batch, , frames] = x.shape;
  const { mu, logvar } = model.encoder.encode(x);
  const z = opts.sample ? reparameterize(mu, logvar, opts.generator ?? ag.defaultGenerator) : mu;
  const xHat = model.decoder.forward(z);
  const perFrame = 1 / (batch * frames);
  const recon = reconstructionNll(model.config, x, xHat, model.logScale).sum().mul(perFrame);
  const klElems = klStandardNormal(mu, logvar);
  const kl = klElems.sum().mul(perFrame);
  const latentSteps = mu.shape[2];
  const klPerDim = klElems.sum([0, 2]).mul(1 / (batch * latentSteps));
  const floor = ag.full([], opts.freeBits);
  const klPenalty = klPerDim.maximum(floor).sum().mul(latentSteps / frames);
  const loss = recon.add(klPenalty.mul(opts.beta));
  return { loss, recon, kl, klPerDim, xHat };
}

/** Dimensions whose KL exceeds `threshold` nats per latent step (TARGETS.md: 0.1). */
export function activeDims(klPerDim: ArrayLike<number>, threshold = 0.1): number {
  let n = 0;
  for (let i = 0; i < klPerDim.length; i++) if (klPerDim[i] > threshold) n++;
  return n;
}

/** Learning rate of a training step (0-based), from the config's lr and lrSchedule. */
export function lrAt(step: number, train: TrainConfig): number {
  if ((train.lrSchedule ?? "constant") === "constant" || train.steps <= 1) return train.lr;
  const t = Math.min(1, step / (train.steps - 1));
  const floor = train.lr / 10;
  return floor + (train.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** β for a training step, from the config. */
export function betaAt(step: number, train: TrainConfig): number {
  return klWeight(step, train.klWarmupSteps);
}
