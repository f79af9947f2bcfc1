/**
 * The convolutional VAE over normalised log-mel frames x [B, nMels, T]:
 *
 *   encoder  Conv1d(nMels→C, k5) → GELU → R × Res → stages × [Conv1d(C→C, k4, s2) → GELU → R × Res]
 *            → Conv1d(C→2L, k3) → μ, log σ² [B, L, T / 2^stages]
 *   decoder  Conv1d(L→C, k3) → GELU → R × Res → stages × [ConvTranspose1d(C→C, k4, s2) → GELU → R × Res]
 *            → Conv1d(C→nMels, k5) → x̂ [B, nMels, T]
 *
 * where Res is a {@link ResidualConvBlock} (R = `residualBlocks`, 0 in TARGETS.md's reference
 * architecture)
 *
 * plus the per-band normalisation statistics (buffers) and the likelihood's global log-scale.
 * Portable: engine only, no Deno APIs.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { blockDilation, ResidualConvBlock } from "./blocks.ts";
import type { ModelConfig } from "./config.ts";

/** `count` residual blocks of `channels` (dilations 1, 3, 9, …). */
function residualBlocks(channels: number, count: number, generator: ag.Generator): ag.Module[] {
  return Array.from(
    { length: count },
    (_, i) => new ResidualConvBlock(channels, blockDilation(i), generator),
  );
}

/** Encoder outputs. */
export interface Posterior {
  mu: ag.Tensor;
  logvar: ag.Tensor;
}

/** The encoder half. */
export class Encoder extends ag.Module {
  readonly layers: ag.Sequential;
  constructor(cfg: ModelConfig, generator: ag.Generator) {
    super();
    const c = cfg.channels;
    const mods: ag.Module[] = [
      new ag.Conv1d(cfg.features.nMels, c, cfg.edgeKernel, {
        padding: (cfg.edgeKernel - 1) / 2,
        generator,
      }),
      new ag.GELU(),
      ...residualBlocks(c, cfg.residualBlocks, generator),
    ];
    for (let s = 0; s < cfg.downsampleStages; s++) {
      mods.push(new ag.Conv1d(c, c, 4, { stride: 2, padding: 1, generator }), new ag.GELU());
      mods.push(...residualBlocks(c, cfg.residualBlocks, generator));
    }
    mods.push(new ag.Conv1d(c, 2 * cfg.latentDim, 3, { padding: 1, generator }));
    this.layers = this.registerModule("layers", new ag.Sequential(...mods));
  }

  /** μ and log σ² [B, latentDim, T / 2^stages] of x [B, nMels, T]. */
  encode(x: ag.Tensor): Posterior {
    const h = this.layers.forward(x);
    const l = h.shape[1] / 2;
    return { mu: h.slice(1, 0, l), logvar: h.slice(1, l, 2 * l) };
  }
}

/** The decoder half. */
export class Decoder extends ag.Module {
  readonly layers: ag.Sequential;
  constructor(cfg: ModelConfig, generator: ag.Generator) {
    super();
    const c = cfg.channels;
    const mods: ag.Module[] = [
      new ag.Conv1d(cfg.latentDim, c, 3, { padding: 1, generator }),
      new ag.GELU(),
      ...residualBlocks(c, cfg.residualBlocks, generator),
    ];
    for (let s = 0; s < cfg.downsampleStages; s++) {
      mods.push(
        new ag.ConvTranspose1d(c, c, 4, { stride: 2, padding: 1, generator }),
        new ag.GELU(),
        ...residualBlocks(c, cfg.residualBlocks, generator),
      );
    }
    mods.push(
      new ag.Conv1d(c, cfg.features.nMels, cfg.edgeKernel, {
        padding: (cfg.edgeKernel - 1) / 2,
        generator,
      }),
    );
    this.layers = this.registerModule("layers", new ag.Sequential(...mods));
  }

  /** Mean of p(x | z): normalised log-mel [B, nMels, T] from z [B, latentDim, T / 2^stages]. */
  override forward(z: ag.Tensor): ag.Tensor {
    return this.layers.forward(z);
  }
}

/** Encoder, decoder, normalisation statistics and likelihood scale. */
export class MelVae extends ag.Module {
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  /** Per-band mean [1, nMels, 1] of the training log-mels. */
  readonly melMean: ag.Tensor;
  /** Per-band standard deviation [1, nMels, 1]. */
  readonly melStd: ag.Tensor;
  /** Global log-scale of the likelihood (a parameter when learnScale, else fixed at 0). */
  readonly logScale: ag.Tensor;

  constructor(readonly config: ModelConfig, seed = 1) {
    super();
    const generator = new ag.Generator(seed);
    this.encoder = this.registerModule("encoder", new Encoder(config, generator));
    this.decoder = this.registerModule("decoder", new Decoder(config, generator));
    const n = config.features.nMels;
    this.melMean = this.registerBuffer("mel_mean", ag.zeros([1, n, 1]));
    this.melStd = this.registerBuffer("mel_std", ag.ones([1, n, 1]));
    this.logScale = config.learnScale
      ? this.registerParameter("log_scale", ag.zeros([]))
      : this.registerBuffer("log_scale", ag.zeros([]));
  }

  /** Time downsampling factor of the latent: mel frames per latent step. */
  get hopFactor(): number {
    return 2 ** this.config.downsampleStages;
  }

  /** `frames` cut down to a whole number of latent steps (what the model can encode; maybe 0). */
  wholeLatentFrames(frames: number): number {
    return Math.floor(frames / this.hopFactor) * this.hopFactor;
  }

  /** Log-mel [B, nMels, T] → the normalised frames the model sees. */
  normalize(logMel: ag.Tensor): ag.Tensor {
    return logMel.sub(this.melMean).div(this.melStd);
  }

  /** Normalised frames → log-mel. */
  denormalize(x: ag.Tensor): ag.Tensor {
    return x.mul(this.melStd).add(this.melMean);
  }

  /** Sets the normalisation statistics (from the training data) in place. */
  setNormalization(mean: Float32Array, std: Float32Array): void {
    const n = this.config.features.nMels;
    this.loadStateDict(
      { mel_mean: ag.tensor(mean, [1, n, 1]), mel_std: ag.tensor(std, [1, n, 1]) },
      { strict: false },
    );
  }
}
