/**
 * Training steps and one evaluation pass of the mel VAE, with the numerical-safety rule: a step
 * whose loss or gradient norm is not finite is skipped (no optimizer update) and counted; too
 * many in a row stop training with {@link NonFiniteError}. The rule is applied on the GPU
 * (engine FiniteStepGate gating AdamW), so a step needs no readback: {@link VaeTrainer.recordStep}
 * records one, {@link VaeTrainer.readStats} reads what the steps since the last read did (when a
 * log line or checkpoint is due). Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { melCepstralDistortion, melLsd } from "../audio/metrics.ts";
import type { TrainConfig } from "./config.ts";
import type { BatchSampler, MelClip } from "./data.ts";
import {
  activeDims,
  betaAt,
  elboTerms,
  klStandardNormal,
  lrAt,
  reconstructionNll,
} from "./elbo.ts";
import type { MelVae } from "./model.ts";
import { forEachCore } from "./windows.ts";

/** What one training step measured (per mel frame). */
export interface StepStats {
  step: number;
  loss: number;
  recon: number;
  kl: number;
  /** −(recon + kl): the ELBO per frame (higher is better). */
  elbo: number;
  gradNorm: number;
  beta: number;
  skipped: boolean;
}

/** What the steps since the previous read did: means over the steps that were applied. */
export interface IntervalStats {
  /** The trainer's step count at the end of the interval. */
  step: number;
  /** Steps in the interval, applied and skipped. */
  steps: number;
  /** Steps skipped for a non-finite loss or gradient. */
  skipped: number;
  /** Means over the applied steps (NaN when every step was skipped). */
  loss: number;
  recon: number;
  kl: number;
  /** −(recon + kl). */
  elbo: number;
  gradNorm: number;
  /** The last step's values, finite or not. */
  last: { loss: number; recon: number; kl: number; gradNorm: number };
  /** β of the last step. */
  beta: number;
}
/** Evaluation of a set of clips (means per frame over all their frames). */
export interface EvalStats {
  recon: number;
  kl: number;
  elbo: number;
  /** KL per latent dimension, nats per latent step. */
  klPerDim: number[];
  activeDims: number;
  /** Mean over clips of the mel log-spectral distance (dB) with z = μ. */
  melLsd: number;
  /** Mean mel-cepstral distortion (dB) with z = μ. */
  mcd: number;
  clips: number;
  frames: number;
}

/**
 * What each eval number is, in words a reader of the report or of `deno task eval` can check
 * without another document (the report lists these under its notes).
 */
export const EVAL_METRIC_DEFINITIONS = {
  elbo: "elbo: the evidence lower bound per mel frame, −(recon + kl), in nats; higher is better.",
  recon: "recon: the reconstruction's negative log-likelihood −log p(x | z = μ) of the per-band " +
    "normalised log-mel x under the decoder's mean and the learned global scale (Gaussian or " +
    "Laplace as configured), summed over the mel bands of a frame; nats per frame.",
  kl: "kl: KL(q(z | x) ‖ N(0, I)) summed over latent dimensions and steps, per mel frame " +
    "(nats; no β, no free bits).",
  activeDims: "activeDims: latent dimensions whose KL exceeds 0.1 nats per latent step.",
  melLsd: "melLsd: mel log-spectral distance in dB: per frame √(mean over mel bands of " +
    "(10·log10 P − 10·log10 P̂)²), P = mel power + 1e-5, the mean over frames, then over clips.",
  mcd: "mcd: mel-cepstral distortion in dB: per frame (10 / ln 10)·√(2·Σₖ₌₁…₁₃ (cₖ − ĉₖ)²), " +
    "c the DCT-II cepstrum of the log mel amplitude (c₀, the level, left out), the mean over " +
    "frames, then over clips.",
} as const;

/** Raised when training produced too many non-finite steps in a row. */
export class NonFiniteError extends Error {
  constructor(count: number, step: number) {
    super(
      `training stopped at step ${step}: ${count} steps in a row had a non-finite loss or gradient. ` +
        "The last good checkpoint is kept; try a lower --lr or a smaller --batch.",
    );
    this.name = "NonFiniteError";
  }
}

/**
 * Owns the optimizer, the finite-step gate and the random streams of a run; draws its batches
 * from `sampler`.
 */
export class VaeTrainer<S extends BatchSampler = BatchSampler> {
  readonly optimizer: ag.AdamW;
  readonly gpuRng: ag.Generator;
  step = 0;
  skippedSteps = 0;
  /** Test hook: called with each step's loss tensor before it is used (e.g. to poison it). */
  lossHook: ((loss: ag.Tensor) => ag.Tensor) | null = null;
  readonly #gate: ag.FiniteStepGate;
  #beta = 0;

  constructor(
    readonly model: MelVae,
    readonly config: TrainConfig,
    readonly sampler: S,
  ) {
    this.optimizer = new ag.AdamW(model.namedParameters(), {
      lr: config.lr,
      weightDecay: config.weightDecay,
    });
    this.gpuRng = new ag.Generator(config.seed + 1);
    // Gated on loss, reconstruction, KL and gradient norm.
    this.#gate = new ag.FiniteStepGate(4, config.maxNonFiniteSteps);
  }

  /**
   * Records one step on a fresh batch of crops — forward, backward, clipping, and the AdamW
   * update gated on the GPU by the finiteness of the loss, its terms and the gradient norm —
   * without waiting for the GPU (only, when it streams, for the sampler's next batch).
   */
  async recordStep(): Promise<void> {
    const { batch, cropFrames, freeBits, gradClip } = this.config;
    const nMels = this.model.config.features.nMels;
    const data = await this.sampler.next();
    this.#beta = betaAt(this.step, this.config);
    this.optimizer.lr = lrAt(this.step, this.config);
    ag.tidy(() => {
      const x = this.model.normalize(ag.tensor(data, [batch, nMels, cropFrames]));
      const t = elboTerms(this.model, x, {
        beta: this.#beta,
        freeBits,
        generator: this.gpuRng,
        sample: true,
      });
      const loss = this.lossHook ? this.lossHook(t.loss) : t.loss;
      loss.backward();
      const norm = ag.clipGradNorm(this.model.parameters(), gradClip);
      const gate = this.#gate.record([loss, t.recon, t.kl, norm]);
      this.optimizer.step({ gate });
      this.optimizer.zeroGrad();
    });
    this.step++;
  }

  /**
   * Reads what the steps recorded since the last read did (one wait for the GPU), counts the
   * skipped ones and brings the optimizer's step counts up to date; throws
   * {@link NonFiniteError} naming the step where `maxNonFiniteSteps` non-finite steps in a row
   * were reached (the steps recorded after it changed nothing, and the step count goes back
   * to it).
   */
  async readStats(): Promise<IntervalStats> {
    const [r] = await Promise.all([this.#gate.read(), this.optimizer.syncSteps()]);
    const first = this.step - r.steps;
    this.skippedSteps += r.skipped;
    if (r.stoppedAt !== null) {
      this.step = first + r.stoppedAt;
      throw new NonFiniteError(this.config.maxNonFiniteSteps, this.step);
    }
    const [loss, recon, kl, gradNorm] = r.means;
    const [lastLoss, lastRecon, lastKl, lastNorm] = r.last;
    return {
      step: this.step,
      steps: r.steps,
      skipped: r.skipped,
      loss,
      recon,
      kl,
      elbo: -(recon + kl),
      gradNorm,
      last: { loss: lastLoss, recon: lastRecon, kl: lastKl, gradNorm: lastNorm },
      beta: this.#beta,
    };
  }

  /** One step and its numbers: {@link recordStep} then {@link readStats} (a readback per step). */
  async trainStep(): Promise<StepStats> {
    await this.recordStep();
    const r = await this.readStats();
    const { loss, recon, kl, gradNorm } = r.last;
    return {
      step: this.step,
      loss,
      recon,
      kl,
      elbo: -(recon + kl),
      gradNorm,
      beta: r.beta,
      skipped: r.skipped > 0,
    };
  }

  /** Evaluates whole clips (each cut to a multiple of the latent hop) with z = μ. */
  evaluate(clips: readonly MelClip[]): Promise<EvalStats> {
    return evaluateClips(this.model, clips);
  }
}

/**
 * Reconstruction (z = μ) of one clip: input and output log-mels [frames, nMels], `frames` its
 * length cut to whole latent steps. A long clip goes through the model in windows
 * (vae/windows.ts), with the same result.
 */
export async function reconstructClip(
  model: MelVae,
  clip: MelClip,
): Promise<{ input: Float32Array; output: Float32Array; frames: number }> {
  const nMels = model.config.features.nMels;
  const output = new Float32Array(model.wholeLatentFrames(clip.frames) * nMels);
  const frames = await forEachCore(model, clip, async ({ xHat }, w) => {
    output.set(await model.denormalize(xHat).transpose(1, 2).toArray(), w.start * nMels);
  });
  return { input: clip.mel.slice(0, frames * nMels), output, frames };
}

/**
 * Mean squared error of the normalised log-mel reconstruction with z = μ, over every frame and
 * band of the clips (each cut to whole latent steps; a clip shorter than one step adds nothing).
 * Unlike the reconstruction NLL it does not depend on the learned likelihood scale, so ratios of
 * it are meaningful (the NLL goes negative once the scale shrinks below ~0.4): it is the
 * held-out measure of `listen`. NaN when there is no frame to measure (no clips, or all shorter
 * than one latent step): the mean of nothing, which `listen` shows as "–", never an error, since
 * an empty held-out set is a normal state early in a session.
 */
export async function reconstructionMse(
  model: MelVae,
  clips: readonly MelClip[],
): Promise<number> {
  const nMels = model.config.features.nMels;
  let sum = 0, count = 0;
  for (const clip of clips) {
    count += nMels * await forEachCore(model, clip, async ({ x, xHat }) => {
      sum += await xHat.sub(x).square().sum().item();
    });
  }
  return count === 0 ? NaN : sum / count;
}

/** ELBO terms, active dimensions, mel-LSD and MCD over clips (z = μ for the distances). */
export async function evaluateClips(model: MelVae, clips: readonly MelClip[]): Promise<EvalStats> {
  const nMels = model.config.features.nMels;
  const latent = model.config.latentDim;
  const floor = model.config.features.logFloor;
  let recon = 0, kl = 0, frames = 0, lsdSum = 0, mcdSum = 0, used = 0;
  const klPerDim = new Float64Array(latent);
  let latentSteps = 0;
  for (const clip of clips) {
    // Sums over the clip's cores (one for a clip of a few minutes; windows for longer ones).
    const output = new Float32Array(model.wholeLatentFrames(clip.frames) * nMels);
    let r = 0, k = 0;
    const perDim = new Float64Array(latent);
    const n = await forEachCore(model, clip, async ({ x, mu, logvar, xHat }, w) => {
      const klElems = klStandardNormal(mu, logvar);
      const out = model.denormalize(xHat).transpose(1, 2);
      // Four readbacks whose queue waits overlap, not four round trips one after another.
      const [rc, kc, pd, o] = await Promise.all([
        reconstructionNll(model.config, x, xHat, model.logScale).sum().item(),
        klElems.sum().item(),
        klElems.sum([0, 2]).toArray(),
        out.toArray(),
      ]);
      r += rc;
      k += kc;
      pd.forEach((v, d) => perDim[d] += v);
      output.set(o, w.start * nMels);
    });
    if (n === 0) continue;
    recon += r;
    kl += k;
    frames += n;
    perDim.forEach((v, d) => klPerDim[d] += v);
    latentSteps += n / model.hopFactor;
    const input = clip.mel.subarray(0, n * nMels);
    const power = (logMel: Float32Array) => logMel.map((v) => Math.max(Math.exp(v) - floor, 0));
    lsdSum += melLsd(power(input), power(output), nMels);
    mcdSum += melCepstralDistortion(input, output, nMels);
    used++;
  }
  if (used === 0) throw new Error("evaluate: no clip is long enough to evaluate");
  const perDim = [...klPerDim].map((v) => v / latentSteps);
  return {
    recon: recon / frames,
    kl: kl / frames,
    elbo: -(recon + kl) / frames,
    klPerDim: perDim,
    activeDims: activeDims(perDim),
    melLsd: lsdSum / used,
    mcd: mcdSum / used,
    clips: used,
    frames,
  };
}
