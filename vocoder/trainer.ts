/**
 * One training step of the vocoder, and its evaluation through the waveform.
 *
 * A step takes a batch of real segments with context (vocoder/data.ts), computes their true
 * log-mel frames with the project's {@link LogMel} (optionally passed through another model,
 * e.g. the VAE's reconstruction, to fine-tune on that model's mels), synthesises the middle
 * segment and minimises the reconstruction losses (mel L1 + multi-resolution STFT). From
 * `adversarialFrom` on, each step first updates the discriminators (least squares on real vs
 * generated audio), then the generator with the adversarial and feature-matching terms added.
 * A step whose losses or gradients are not finite changes no weight and is counted; too many in
 * a row stop training with {@link NonFiniteError}. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import type { LogMel } from "../audio/features.ts";
import { melToAudio } from "../audio/vocoder.ts";
import { ReferenceAnalyser, waveformDistance } from "../audio/waveform_distance.ts";
import { NonFiniteError } from "../vae/trainer.ts";
import type { VocoderTrainConfig } from "./config.ts";
import type { SegmentBatch } from "./data.ts";
import type { Discriminators } from "./discriminators.ts";
import {
  discriminatorLoss,
  featureMatchingLoss,
  generatorAdversarialLoss,
  melL1,
  multiResolutionStftLoss,
} from "./losses.ts";
import type { Vocoder } from "./model.ts";

export { NonFiniteError };

/** What one step measured. */
export interface VocoderStepStats {
  step: number;
  /** The generator's total loss. */
  loss: number;
  mel: number;
  spectralConvergence: number;
  logMagnitude: number;
  /** Discriminator loss, generator adversarial and feature-matching terms (NaN before GAN). */
  discriminator: number;
  adversarial: number;
  featureMatching: number;
  gradNorm: number;
  adversarialPhase: boolean;
  skipped: boolean;
}

/** Log-mel frames [B, nMels, T] → the frames the vocoder is trained on (same shape). */
export type MelTransform = (logMel: ag.Tensor) => ag.Tensor;

/** Owns the optimizers and the GPU random stream of a run. */
export class VocoderTrainer {
  readonly generatorOptimizer: ag.AdamW;
  readonly discriminatorOptimizer: ag.AdamW;
  readonly gpuRng: ag.Generator;
  step = 0;
  skippedSteps = 0;
  #nonFiniteInARow = 0;
  /** Applied (without gradient) to the true log-mels before the vocoder sees them. */
  melTransform: MelTransform | null = null;
  /** Test hook: called with the generator's loss before it is read (e.g. to poison it). */
  lossHook: ((loss: ag.Tensor) => ag.Tensor) | null = null;

  constructor(
    readonly vocoder: Vocoder,
    readonly discriminators: Discriminators,
    readonly config: VocoderTrainConfig,
    readonly logMel: LogMel,
  ) {
    const { lr, discriminatorLr, betas, weightDecay } = config;
    this.generatorOptimizer = new ag.AdamW(vocoder.namedParameters(), { lr, betas, weightDecay });
    this.discriminatorOptimizer = new ag.AdamW(discriminators.namedParameters(), {
      lr: discriminatorLr,
      betas,
      weightDecay,
    });
    this.gpuRng = new ag.Generator(config.seed + 1);
  }

  /** Whether the step about to run trains adversarially. */
  get adversarial(): boolean {
    return this.config.adversarialFrom > 0 && this.step >= this.config.adversarialFrom;
  }

  /**
   * The vocoder's input frames [B, nMels, segmentFrames + 1] and the target waveform
   * [B, segmentSamples] of a batch with context.
   */
  inputs(batch: SegmentBatch): { mel: ag.Tensor; target: ag.Tensor } {
    const { nFft, hop } = this.vocoder.config.features;
    const segment = this.config.segmentFrames * hop;
    const audio = ag.tensor(batch.audio, [batch.batch, batch.samplesPerSegment]);
    return ag.noGrad(() => {
      let mel = this.logMel.forward(audio, false); // [B, nMels, frames ≥ segmentFrames + 1]
      if (this.melTransform) mel = this.melTransform(mel);
      mel = mel.slice(2, 0, this.config.segmentFrames + 1);
      return { mel, target: audio.slice(1, nFft / 2, nFft / 2 + segment) };
    });
  }

  /** One step on a batch. */
  async trainStep(batch: SegmentBatch): Promise<VocoderStepStats> {
    const cfg = this.config;
    const adversarial = this.adversarial;
    const values = await ag.tidy(async () => {
      const { mel, target } = this.inputs(batch);
      const fake = this.vocoder.synthesize(mel, target.shape[1]);
      const out: ag.Tensor[] = [];
      let discriminatorTerm = ag.scalar(NaN);
      // The real segments' hidden activations, for feature matching: taken in the
      // discriminators' step (one update earlier than HiFi-GAN's, which runs them again).
      let realFeatures: ag.Tensor[][] = [];
      if (adversarial) {
        this.discriminators.setRequiresGrad(true);
        const realOut = this.discriminators.run(target);
        realFeatures = realOut.map((o) => o.features.map((f) => f.detach()));
        const lossD = discriminatorLoss(
          realOut.map((o) => o.score),
          this.discriminators.run(fake.detach()).map((o) => o.score),
        );
        lossD.backward();
        const normD = ag.clipGradNorm(this.discriminators.parameters(), cfg.gradClip);
        // Read back before stepping: a non-finite discriminator step is skipped like any other.
        const d = await ag.concat([lossD.reshape([1]), normD.reshape([1])]).toArray();
        if (d.every(Number.isFinite)) this.discriminatorOptimizer.step();
        this.discriminatorOptimizer.zeroGrad();
        discriminatorTerm = ag.scalar(d.every(Number.isFinite) ? d[0] : NaN);
        this.discriminators.setRequiresGrad(false);
      }
      const melTerm = melL1(this.logMel, fake, target);
      const stft = multiResolutionStftLoss(
        fake,
        target,
        cfg.stftResolutions,
        cfg.logMagnitudeNorm ?? "l1",
      );
      let loss = melTerm.mul(cfg.melWeight).add(
        stft.spectralConvergence.add(stft.logMagnitude).mul(cfg.stftWeight),
      );
      let adv = ag.scalar(NaN), fm = ag.scalar(NaN);
      if (adversarial) {
        const fakeOut = this.discriminators.run(fake);
        adv = generatorAdversarialLoss(fakeOut.map((o) => o.score));
        fm = featureMatchingLoss(realFeatures, fakeOut.map((o) => o.features));
        loss = loss.add(adv.mul(cfg.adversarialWeight)).add(fm.mul(cfg.featureMatchingWeight));
      }
      if (this.lossHook) loss = this.lossHook(loss);
      loss.backward();
      const norm = ag.clipGradNorm(this.vocoder.parameters(), cfg.gradClip);
      out.push(loss, melTerm, stft.spectralConvergence, stft.logMagnitude, norm);
      const v = await ag.concat(out.map((t) => t.reshape([1]))).toArray();
      if (v.every(Number.isFinite)) this.generatorOptimizer.step();
      this.generatorOptimizer.zeroGrad();
      const extras = await ag.concat([discriminatorTerm, adv, fm].map((t) => t.reshape([1])))
        .toArray();
      return [...v, ...extras];
    });
    const [loss, mel, sc, mag, gradNorm, discriminator, adversarialTerm, fm] = values;
    const skipped = ![loss, mel, sc, mag, gradNorm].every(Number.isFinite) ||
      (adversarial && !Number.isFinite(discriminator));
    this.step++;
    if (skipped) {
      this.skippedSteps++;
      if (++this.#nonFiniteInARow >= cfg.maxNonFiniteSteps) {
        throw new NonFiniteError(this.#nonFiniteInARow, this.step);
      }
    } else this.#nonFiniteInARow = 0;
    return {
      step: this.step,
      loss,
      mel,
      spectralConvergence: sc,
      logMagnitude: mag,
      discriminator,
      adversarial: adversarialTerm,
      featureMatching: fm,
      gradNorm,
      adversarialPhase: adversarial,
      skipped,
    };
  }
}

/** A clip to measure on: its name and samples at the features' rate. */
export interface EvalClip {
  name: string;
  samples: Float32Array;
}

/** Distances through the waveform (dB) of one system on one clip. */
export interface ClipDistance {
  name: string;
  melLsd: number;
  lsd: number;
}

/** A clip's own log-mel frames [1, nMels, T] (through `melTransform` when given), no graph. */
function clipMel(logMel: LogMel, samples: Float32Array, melTransform: MelTransform | null) {
  const mel = ag.noGrad(() => logMel.forward(ag.tensor(samples, [1, samples.length])));
  return melTransform ? melTransform(mel) : mel;
}

/** The vocoder's audio for a whole clip, from the clip's own true log-mel frames. */
export function vocodeClip(
  vocoder: Vocoder,
  logMel: LogMel,
  samples: Float32Array,
  melTransform: MelTransform | null = null,
): Promise<Float32Array> {
  return ag.tidy(() =>
    ag.noGrad(() => vocoder.synthesize(clipMel(logMel, samples, melTransform), samples.length))
      .toArray()
  );
}

/** Griffin-Lim (64 iterations, seed 1) on a clip's true log-mel frames: the baseline. */
export function griffinLimClip(
  logMel: LogMel,
  samples: Float32Array,
  melTransform: MelTransform | null = null,
): Promise<Float32Array> {
  return ag.tidy(() =>
    melToAudio(clipMel(logMel, samples, melTransform).transpose(1, 2), logMel.config, {
      iterations: 64,
      seed: 1,
      length: samples.length,
    }).toArray()
  );
}

/** mel-LSD and LSD through the waveform (audio/waveform_distance.ts) of `system` on each clip. */
export async function measureClips(
  clips: readonly EvalClip[],
  system: (samples: Float32Array) => Promise<Float32Array>,
  analyser = new ReferenceAnalyser(),
): Promise<ClipDistance[]> {
  const out: ClipDistance[] = [];
  for (const clip of clips) {
    const audio = await system(clip.samples);
    const d = waveformDistance(clip.samples, audio, { analyser });
    out.push({ name: clip.name, melLsd: d.melLsd, lsd: d.lsd });
  }
  return out;
}

/** Means of a list of distances. */
export function meanDistance(d: readonly ClipDistance[]): { melLsd: number; lsd: number } {
  const n = Math.max(1, d.length);
  return {
    melLsd: d.reduce((s, x) => s + x.melLsd, 0) / n,
    lsd: d.reduce((s, x) => s + x.lsd, 0) / n,
  };
}
