/**
 * The neural vocoder (Vocos-style): log-mel frames → waveform, all at frame rate until the last
 * step, which is the engine's differentiable inverse STFT.
 *
 *   normalised log-mel [B, nMels, T] → Conv1d(nMels→C, k7) → LayerNorm
 *   → N × ConvNeXt block: depthwise Conv1d(k7, groups C) → LayerNorm → Linear(C→I) → GELU
 *                         → Linear(I→C) → × layer scale γ → + residual
 *   → LayerNorm → Linear(C → 3·bins): per STFT bin, a log-magnitude ℓ and a 2-vector (a, b)
 *   → X = exp(min(ℓ + ℓ₀, cap)) · (a, b) / √(a² + b² + ε)  (ag.logMagnitudePhasor) [B, T, bins, 2]
 *     where ℓ₀ is 0, or with `magnitudePrior` the log-magnitude the filterbank's pseudo-inverse
 *     gives back from the input mel (Griffin-Lim's magnitude; the head learns a correction)
 *   → istft (nFft, hop of the features, periodic Hann, centred) → samples [B, (T − 1)·hop]
 *
 * The phase is an unnormalised 2-vector, so there is no wrap-around and no sin/cos. Frame t of
 * the input is centred on sample t·hop of the output, as in the features' centred STFT, so a
 * clip of n samples (1 + ⌊n / hop⌋ frames) comes back with n samples. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { melPseudoInverse } from "../audio/vocoder.ts";
import type { VocoderConfig } from "./config.ts";

/**
 * Floor of the prior's linear power (the pseudo-inverse clamps negatives to 0): 1e-10 is
 * −100 dB below a full-scale bin, under anything the losses or the measure count.
 */
export const PRIOR_POWER_FLOOR = 1e-10;

/** One ConvNeXt block at frame rate, channels-last: x and the output are [B, T, C]. */
export class ConvNeXtBlock extends ag.Module {
  readonly depthwise: ag.Conv1d;
  readonly norm: ag.LayerNorm;
  readonly pointwise1: ag.Linear;
  readonly pointwise2: ag.Linear;
  /** Layer scale γ [C], initialised to 1 / layers (as Vocos). */
  readonly gamma: ag.Tensor;
  readonly #padding: number;

  constructor(cfg: VocoderConfig, generator: ag.Generator) {
    super();
    const c = cfg.channels;
    this.#padding = (cfg.kernelSize - 1) / 2;
    // Holds the [C, 1, K] weight and bias; run channels-last by depthwiseConv1d below.
    this.depthwise = this.registerModule(
      "dwconv",
      new ag.Conv1d(c, c, cfg.kernelSize, { groups: c, generator }),
    );
    this.norm = this.registerModule("norm", new ag.LayerNorm(c, { eps: 1e-6 }));
    this.pointwise1 = this.registerModule(
      "pwconv1",
      new ag.Linear(c, cfg.intermediate, { generator }),
    );
    this.pointwise2 = this.registerModule(
      "pwconv2",
      new ag.Linear(cfg.intermediate, c, { generator }),
    );
    this.gamma = this.registerParameter("gamma", ag.full([c], 1 / cfg.layers));
  }

  override forward(x: ag.Tensor): ag.Tensor {
    const h = ag.depthwiseConv1d(x, this.depthwise.weight, this.depthwise.bias, {
      padding: this.#padding,
      channelsLast: true,
    });
    const y = this.pointwise2.forward(this.pointwise1.forward(this.norm.forward(h)).gelu());
    return x.add(y.mul(this.gamma));
  }
}

/** The generator. Call {@link Vocoder.synthesize} with log-mel frames. */
export class Vocoder extends ag.Module {
  readonly embed: ag.Conv1d;
  readonly embedNorm: ag.LayerNorm;
  readonly blocks: ConvNeXtBlock[];
  readonly finalNorm: ag.LayerNorm;
  readonly head: ag.Linear;
  /** Per-band mean [1, nMels, 1] of the training log-mels. */
  readonly melMean: ag.Tensor;
  /** Per-band standard deviation [1, nMels, 1]. */
  readonly melStd: ag.Tensor;
  /** STFT bins of the head: nFft / 2 + 1. */
  readonly bins: number;
  /**
   * The mel filterbank's pseudo-inverse, transposed [nMels, bins] (with `magnitudePrior`): a
   * constant of the features, so it is not a parameter or a saved buffer.
   */
  readonly #pinvT: ag.Tensor | null;

  constructor(readonly config: VocoderConfig, seed = 1) {
    super();
    const generator = new ag.Generator(seed);
    const { channels: c, kernelSize: k } = config;
    const n = config.features.nMels;
    this.embed = this.registerModule(
      "embed",
      new ag.Conv1d(n, c, k, { padding: (k - 1) / 2, generator }),
    );
    this.embedNorm = this.registerModule("embed_norm", new ag.LayerNorm(c, { eps: 1e-6 }));
    this.blocks = [];
    for (let i = 0; i < config.layers; i++) {
      this.blocks.push(this.registerModule(`block${i}`, new ConvNeXtBlock(config, generator)));
    }
    this.finalNorm = this.registerModule("final_norm", new ag.LayerNorm(c, { eps: 1e-6 }));
    this.bins = config.features.nFft / 2 + 1;
    this.head = this.registerModule("head", new ag.Linear(c, 3 * this.bins, { generator }));
    this.melMean = this.registerBuffer("mel_mean", ag.zeros([1, n, 1]));
    this.melStd = this.registerBuffer("mel_std", ag.ones([1, n, 1]));
    this.#pinvT = null;
    if (config.magnitudePrior) {
      const pinv = Float32Array.from(melPseudoInverse(config.features)); // [bins, nMels]
      this.#pinvT = ag.tidy(() => ag.tensor(pinv, [this.bins, n]).transpose(0, 1)).keep();
      // The head starts by adding nothing to the prior: its log-magnitude outputs (every third
      // row, see spectrogram) begin at zero, so the first magnitudes are the prior's.
      ag.noGrad(() =>
        ag.tidy(() => {
          const keep = ag.tensor(
            Float32Array.from({ length: 3 * this.bins }, (_, i) => (i % 3 === 0 ? 0 : 1)),
            [3 * this.bins, 1],
          );
          for (
            const [p, mask] of [[this.head.weight, keep], [this.head.bias!, keep.reshape([-1])]]
          ) {
            const masked = p.mul(mask);
            ag.rt().copy(masked.buffer, 0, p.buffer, 0, p.size * 4);
          }
        })
      );
    }
  }

  /**
   * The prior log-magnitude [B, T, bins] of log-mel frames [B, nMels, T]: ½·log of the mel
   * power mapped back to linear bins by the filterbank's pseudo-inverse (negatives clamped, a
   * floor of PRIOR_POWER_FLOOR) — Griffin-Lim's magnitude, which the head corrects (FreeV, Lv et
   * al. 2024: the vocoder then has to learn the phase and the detail, not the envelope).
   */
  magnitudePrior(logMel: ag.Tensor): ag.Tensor {
    if (!this.#pinvT) throw new Error("vocoder: this config has no magnitude prior");
    const floor = this.config.features.logFloor;
    return ag.noGrad(() =>
      logMel.transpose(1, 2).exp().sub(floor).relu().matmul(this.#pinvT!).relu()
        .add(PRIOR_POWER_FLOOR).log().mul(0.5)
    );
  }

  /** Sets the input normalisation (per-band statistics of the training log-mels) in place. */
  setNormalization(mean: Float32Array, std: Float32Array): void {
    const n = this.config.features.nMels;
    this.loadStateDict(
      { mel_mean: ag.tensor(mean, [1, n, 1]), mel_std: ag.tensor(std, [1, n, 1]) },
      { strict: false },
    );
  }

  /**
   * The complex spectrogram [B, T, bins, 2] (real, imaginary) the head predicts for log-mel
   * frames [B, nMels, T] (channels-first, unnormalised: the features as computed).
   */
  spectrogram(logMel: ag.Tensor): ag.Tensor {
    const n = this.config.features.nMels;
    if (logMel.ndim !== 3 || logMel.shape[1] !== n) {
      throw new Error(
        `vocoder: log-mel [${logMel.shape}] is not [batch, ${n}, frames] (transpose a ` +
          `[batch, frames, ${n}] input with .transpose(1, 2))`,
      );
    }
    const [batch, , frames] = logMel.shape;
    const x = logMel.sub(this.melMean).div(this.melStd);
    let h = this.embedNorm.forward(this.embed.forward(x).transpose(1, 2)); // [B, T, C]
    for (const block of this.blocks) h = block.forward(h);
    // The head's 3·bins outputs are, per bin, (log-magnitude, a, b): a free view as [..., 3].
    const out = this.head.forward(this.finalNorm.forward(h)).reshape([batch, frames, this.bins, 3]);
    const prior = this.#pinvT ? this.magnitudePrior(logMel) : null;
    return ag.logMagnitudePhasor(out, this.config.maxLogMagnitude, prior);
  }

  /**
   * Samples [B, length] for log-mel frames [B, nMels, T]; `length` defaults to (T − 1)·hop
   * (pass the clip's own length, up to T·hop − 1, to get it back sample for sample).
   */
  synthesize(logMel: ag.Tensor, length?: number): ag.Tensor {
    const { nFft, hop } = this.config.features;
    const frames = logMel.shape[2];
    const n = length ?? (frames - 1) * hop;
    if (!Number.isInteger(n) || 1 + Math.floor(n / hop) !== frames) {
      throw new Error(
        `vocoder: ${n} samples give ${1 + Math.floor(n / hop)} frames, not ${frames}; ` +
          `pass a length from ${(frames - 1) * hop} to ${frames * hop - 1}`,
      );
    }
    return ag.istft(this.spectrogram(logMel), {
      nFft,
      hop,
      window: "hann",
      center: true,
      length: n,
    });
  }

  /** Frees the parameters, buffers and the pseudo-inverse. */
  override dispose(): void {
    super.dispose();
    this.#pinvT?.dispose();
  }

  /** Number of trained parameters. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }
}
