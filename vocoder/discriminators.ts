/**
 * The discriminators of adversarial vocoder training, small enough for a CPU:
 *
 * - multi-period (HiFi-GAN): for each period p, the waveform [B, L] zero-padded to a multiple
 *   of p and folded to [B, 1, L/p, p], then Conv2d (k5×1, stride 3×1) layers with leaky ReLU
 *   (slope 0.1), a k5×1 layer and a k3×1 layer to one score map — each column sees every p-th
 *   sample, so periodic structure (pitch) is judged directly;
 * - multi-resolution (UnivNet, Vocos): for each STFT resolution, the log-magnitude spectrogram
 *   [B, 1, frames, bins] through three Conv2d (k3×9) layers, each strided ×2 along frequency,
 *   and a k3×3 layer, to a score map.
 *
 * Each sub-discriminator returns its score map and every hidden activation (for feature
 * matching). Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import type { DiscriminatorConfig } from "./config.ts";

/** Scores and hidden activations of one sub-discriminator. */
export interface DiscriminatorOutput {
  score: ag.Tensor;
  features: ag.Tensor[];
}

const SLOPE = 0.1;

/** Conv2d → leaky ReLU for each layer, then the score layer; every activation is a feature. */
function runLayers(
  x: ag.Tensor,
  layers: readonly ag.Conv2d[],
  post: ag.Conv2d,
): DiscriminatorOutput {
  let h = x;
  const features: ag.Tensor[] = [];
  for (const conv of layers) {
    h = conv.forward(h).leakyRelu(SLOPE);
    features.push(h);
  }
  const score = post.forward(h);
  features.push(score);
  return { score, features };
}

/** One period of the multi-period discriminator. */
export class PeriodDiscriminator extends ag.Module {
  readonly layers: ag.Conv2d[];
  readonly post: ag.Conv2d;

  constructor(readonly period: number, channels: readonly number[], generator: ag.Generator) {
    super();
    this.layers = [];
    let cin = 1;
    channels.forEach((c, i) => {
      this.layers.push(this.registerModule(
        `conv${i}`,
        new ag.Conv2d(cin, c, [5, 1], { stride: [3, 1], padding: [2, 0], generator }),
      ));
      cin = c;
    });
    this.layers.push(this.registerModule(
      `conv${channels.length}`,
      new ag.Conv2d(cin, cin, [5, 1], { padding: [2, 0], generator }),
    ));
    this.post = this.registerModule(
      "post",
      new ag.Conv2d(cin, 1, [3, 1], { padding: [1, 0], generator }),
    );
  }

  /** Scores of waveforms [B, L]. */
  run(audio: ag.Tensor): DiscriminatorOutput {
    const [batch, length] = audio.shape;
    const p = this.period;
    const padded = length % p ? audio.pad([0, p - (length % p)]) : audio;
    return runLayers(padded.reshape([batch, 1, padded.shape[1] / p, p]), this.layers, this.post);
  }
}

/** One resolution of the multi-resolution discriminator. */
export class ResolutionDiscriminator extends ag.Module {
  readonly layers: ag.Conv2d[];
  readonly post: ag.Conv2d;

  constructor(
    readonly nFft: number,
    readonly hop: number,
    channels: number,
    generator: ag.Generator,
  ) {
    super();
    const c = channels;
    this.layers = [
      new ag.Conv2d(1, c, [3, 9], { stride: [1, 2], padding: [1, 4], generator }),
      new ag.Conv2d(c, c, [3, 9], { stride: [1, 2], padding: [1, 4], generator }),
      new ag.Conv2d(c, c, [3, 9], { stride: [1, 2], padding: [1, 4], generator }),
      new ag.Conv2d(c, c, [3, 3], { padding: [1, 1], generator }),
    ].map((m, i) => this.registerModule(`conv${i}`, m));
    this.post = this.registerModule(
      "post",
      new ag.Conv2d(c, 1, [3, 3], { padding: [1, 1], generator }),
    );
  }

  /** Scores of waveforms [B, L]. */
  run(audio: ag.Tensor): DiscriminatorOutput {
    const power = ag.stftPower(audio, { nFft: this.nFft, hop: this.hop, window: "hann" });
    // Log-magnitude, offset so that silence sits near 0 rather than at −∞.
    const h = power.add(1e-6).log().mul(0.5);
    return runLayers(h.reshape([h.shape[0], 1, h.shape[1], h.shape[2]]), this.layers, this.post);
  }
}

/** All sub-discriminators: the periods first, then the resolutions. */
export class Discriminators extends ag.Module {
  readonly periods: PeriodDiscriminator[];
  readonly resolutions: ResolutionDiscriminator[];

  constructor(readonly config: DiscriminatorConfig, seed = 2) {
    super();
    const generator = new ag.Generator(seed);
    this.periods = config.periods.map((p) =>
      this.registerModule(`mpd${p}`, new PeriodDiscriminator(p, config.periodChannels, generator))
    );
    this.resolutions = config.resolutions.map(([nFft, hop]) =>
      this.registerModule(
        `mrd${nFft}`,
        new ResolutionDiscriminator(nFft, hop, config.resolutionChannels, generator),
      )
    );
  }

  /** Every sub-discriminator's output for waveforms [B, L]. */
  run(audio: ag.Tensor): DiscriminatorOutput[] {
    return [
      ...this.periods.map((d) => d.run(audio)),
      ...this.resolutions.map((d) => d.run(audio)),
    ];
  }

  /** Turns gradient recording for the discriminators' parameters on or off. */
  setRequiresGrad(on: boolean): void {
    for (const p of this.parameters()) p.requiresGrad = on;
  }
}
