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
import { type CropSampler, type MelClip, writeCropChannelsFirst } from "./data.ts";
import { activeDims, betaAt, elboTerms } from "./elbo.ts";
import type { MelVae } from "./model.ts";

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
  /** Mean over clips of the mel log-spectral distance (dB, TARGETS.md) with z = μ. */
  melLsd: number;
  /** Mean mel-cepstral distortion (dB) with z = μ. */
  mcd: number;
  clips: number;
  frames: number;
}

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

/** Owns the optimizer, the finite-step gate and the random streams of a run. */
export class VaeTrainer {
  readonly optimizer: ag.AdamW;
  readonly gpuRng: ag.Generator;
  step = 0;
  skippedSteps = 0;
  /** Test hook: called with each step's loss tensor before it is used (e.g. to poison it). */
  lossHook: ((loss: ag.Tensor) => ag.Tensor) | null = null;
  readonly #gate: ag.FiniteStepGate;
  #beta = 0;

  constructor(readonly model: MelVae, readonly config: TrainConfig, readonly sampler: CropSampler) {
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
   * without waiting for the GPU.
   */
  recordStep(): void {
    const { batch, cropFrames, freeBits, gradClip } = this.config;
    const nMels = this.model.config.features.nMels;
    const data = this.sampler.next();
    this.#beta = betaAt(this.step, this.config);
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
    this.recordStep();
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

/** Reconstruction (z = μ) of one clip: input and output log-mels [frames, nMels]. */
export async function reconstructClip(
  model: MelVae,
  clip: MelClip,
): Promise<{ input: Float32Array; output: Float32Array; frames: number }> {
  const nMels = model.config.features.nMels;
  const frames = Math.floor(clip.frames / model.hopFactor) * model.hopFactor;
  const chFirst = new Float32Array(nMels * frames);
  writeCropChannelsFirst(clip, nMels, 0, frames, chFirst, 0);
  const out = await ag.tidy(() =>
    ag.noGrad(() => {
      const x = model.normalize(ag.tensor(chFirst, [1, nMels, frames]));
      const { mu } = model.encoder.encode(x);
      return model.denormalize(model.decoder.forward(mu)).transpose(1, 2);
    }).toArray()
  );
  return { input: clip.mel.slice(0, frames * nMels), output: out, frames };
}

/**
 * Mean squared error of the normalised log-mel reconstruction with z = μ, over every frame and
 * band of the clips (each cut to a multiple of the latent hop). Unlike the reconstruction NLL it
 * does not depend on the learned likelihood scale, so ratios of it are meaningful (the NLL goes
 * negative once the scale shrinks below ~0.4).
 */
export async function reconstructionMse(
  model: MelVae,
  clips: readonly MelClip[],
): Promise<number> {
  const nMels = model.config.features.nMels;
  let sum = 0, count = 0;
  for (const clip of clips) {
    const n = Math.floor(clip.frames / model.hopFactor) * model.hopFactor;
    if (n === 0) continue;
    const chFirst = new Float32Array(nMels * n);
    writeCropChannelsFirst(clip, nMels, 0, n, chFirst, 0);
    sum += await ag.tidy(() =>
      ag.noGrad(() => {
        const x = model.normalize(ag.tensor(chFirst, [1, nMels, n]));
        return model.decoder.forward(model.encoder.encode(x).mu).sub(x).square().sum();
      }).item()
    );
    count += n * nMels;
  }
  if (count === 0) throw new Error("reconstructionMse: no clip is long enough to evaluate");
  return sum / count;
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
    const n = Math.floor(clip.frames / model.hopFactor) * model.hopFactor;
    if (n === 0) continue;
    const chFirst = new Float32Array(nMels * n);
    writeCropChannelsFirst(clip, nMels, 0, n, chFirst, 0);
    const [r, k, perDim, output] = await ag.tidy(async () => {
      const x = model.normalize(ag.tensor(chFirst, [1, nMels, n]));
      const t = ag.noGrad(() => elboTerms(model, x, { beta: 1, freeBits: 0, sample: false }));
      const out = ag.noGrad(() => model.denormalize(t.xHat).transpose(1, 2));
      // Four readbacks whose queue waits overlap, not four round trips one after another.
      return await Promise.all([
        t.recon.item(),
        t.kl.item(),
        t.klPerDim.toArray(),
        out.toArray(),
      ]);
    });
    recon += r * n;
    kl += k * n;
    frames += n;
    const steps = n / model.hopFactor;
    perDim.forEach((v, d) => klPerDim[d] += v * steps);
    latentSteps += steps;
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
