/**
 * Live adaptation of a pretrained mel VAE to a new voice (`deno task listen`).
 *
 * Voiced audio arrives in pieces; it is cut into blocks (default 1 s), turned into log-mel
 * features, and the newest `heldOutSeconds` of blocks are kept aside as a held-out check (older
 * blocks move into the training pool). Each step fine-tunes the decoder (and optionally the last
 * `encoderLayers` layers of the encoder; the rest stays frozen and runs without gradients) on
 *
 *   loss = NLL(voiced crops) + replayWeight · NLL(replay crops from pretraining features)
 *          + λ · Σ ‖θ − θ₀‖²                    (L2-SP: a pull toward the pretrained weights)
 *          [+ KL(q(z | x) ‖ N(0, I)) per frame when encoder layers are trained]
 *
 * (the KL with β = 1 and no free bits: it only keeps a tuned encoder's posterior near the prior
 * the decoder was trained on; the decoder-only default has no KL term, the posterior is fixed)
 *
 * so the model learns the voice without forgetting speech. Progress is measured as the
 * reconstruction error (mean squared error of the normalised log-mel, z = μ) on the held-out
 * blocks, for the adapted model and for the frozen base model. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { reconstructionMse } from "./trainer.ts";
import { LogMel, logMelBatch } from "../audio/features.ts";
import { type MelClip, mulberry32Next, writeCropChannelsFirst } from "./data.ts";
import { klStandardNormal, lrAt, reconstructionNll, reparameterize } from "./elbo.ts";
import type { TrainConfig } from "./config.ts";
import type { MelVae } from "./model.ts";

/** How to adapt. */
export interface AdaptConfig {
  lr: number;
  /** Voiced crops per step. */
  batch: number;
  /** Replay crops per step (0: no replay). */
  replayBatch: number;
  /** Weight of the replay term. */
  replayWeight: number;
  /** Frames per crop (a multiple of the model's hop factor, ≤ frames of a block). */
  cropFrames: number;
  /** λ of the L2-SP pull toward the pretrained weights. */
  l2sp: number;
  /** Trainable encoder layers, counted from its output end (0: encoder frozen). */
  encoderLayers: number;
  /** Seconds of voiced audio per feature block. */
  blockSeconds: number;
  /** Newest voiced seconds kept aside as the held-out check. */
  heldOutSeconds: number;
  /** Oldest training blocks are dropped past this. */
  maxPoolSeconds: number;
  gradClip: number;
  seed: number;
}

/** Defaults: a few steps per voiced second keep up with real time on a laptop GPU. */
/**
 * The adaptation learning rate for a base trained with `train` (null: unknown): the rate its
 * training ended with, and never above {@link DEFAULT_ADAPT}'s. A base whose schedule decayed
 * (the shipped one ends at 1e-4) is moved no faster than it last learned: at 1e-3 the shipped
 * base got worse on the new voice's unheard clips (+4 %) and on other voices (+12 %); at its own
 * 1e-4, −4 % and +1.5 % (VCTK p225, 22 s heard).
 */
export function adaptationLr(train: TrainConfig | null): number {
  return train ? Math.min(DEFAULT_ADAPT.lr, lrAt(train.steps, train)) : DEFAULT_ADAPT.lr;
}

export const DEFAULT_ADAPT: Readonly<AdaptConfig> = Object.freeze({
  lr: 1e-3,
  batch: 4,
  replayBatch: 4,
  replayWeight: 2,
  cropFrames: 48,
  l2sp: 0.1,
  encoderLayers: 0,
  blockSeconds: 1,
  heldOutSeconds: 3,
  maxPoolSeconds: 600,
  gradClip: 5,
  seed: 1,
});

/** What one adaptation step measured. */
export interface AdaptStepStats {
  step: number;
  loss: number;
  /** NLL per frame of the voiced crops. */
  voiced: number;
  /** NLL per frame of the replay crops (NaN without replay). */
  replay: number;
  /** Σ ‖θ − θ₀‖². */
  drift: number;
  skipped: boolean;
}

/**
 * Log-mel features [frames, nMels] of mono samples at the model rate, as a clip (a long one
 * analysed in chunks, see {@link logMelBatch}).
 */
export async function melClip(logMel: LogMel, samples: Float32Array, name: string) {
  const [mel] = await logMelBatch(logMel, [samples]);
  return { name, frames: mel.length / logMel.config.nMels, mel } satisfies MelClip;
}

/** Owns the optimizer, the anchors θ₀, the voiced pool and the held-out blocks. */
export class VoiceAdapter {
  readonly optimizer: ag.AdamW;
  readonly trainable: Map<string, ag.Tensor>;
  readonly #anchors: Map<string, ag.Tensor>;
  readonly #logMel: LogMel;
  readonly #gen: ag.Generator;
  #rng: number;
  #pending: Float32Array;
  #pendingLen = 0;
  /** Training blocks (oldest first). */
  readonly pool: MelClip[] = [];
  /** Held-out blocks (newest last). */
  readonly heldOut: MelClip[] = [];
  #blocks = 0;
  step = 0;
  skippedSteps = 0;
  /** Base model's error on each held-out block, computed when it arrived. */
  readonly #baseError = new WeakMap<MelClip, number>();

  constructor(
    readonly model: MelVae,
    /** The frozen pretrained model (for the base held-out loss); null to skip it. */
    readonly base: MelVae | null,
    readonly replay: readonly MelClip[],
    readonly config: AdaptConfig,
  ) {
    const cfg = model.config;
    const factor = model.hopFactor;
    if (config.cropFrames % factor !== 0) {
      throw new Error(`adapt: cropFrames ${config.cropFrames} must be a multiple of ${factor}`);
    }
    const blockFrames = Math.floor(
      (config.blockSeconds * cfg.features.sampleRate) / cfg.features.hop,
    );
    if (blockFrames < config.cropFrames) {
      throw new Error(
        `adapt: a ${config.blockSeconds} s block has ${blockFrames} frames, fewer than cropFrames ${config.cropFrames}`,
      );
    }
    const encLayers = model.encoder.layers.layers.length;
    const firstTrainable = encLayers - config.encoderLayers;
    this.trainable = new Map();
    for (const [name, p] of model.namedParameters()) {
      if (name.startsWith("decoder.")) this.trainable.set(name, p);
      else if (name.startsWith("encoder.layers.") && config.encoderLayers > 0) {
        const layer = Number(name.split(".")[2]);
        if (layer >= firstTrainable) this.trainable.set(name, p);
      }
    }
    this.#anchors = new Map();
    for (const [name, p] of this.trainable) {
      this.#anchors.set(name, ag.noGrad(() => ag.clone(p)).keep());
    }
    this.optimizer = new ag.AdamW(this.trainable, { lr: config.lr, weightDecay: 0 });
    this.#logMel = new LogMel(cfg.features);
    this.#gen = new ag.Generator(config.seed + 7);
    this.#rng = config.seed >>> 0;
    this.#pending = new Float32Array(Math.round(config.blockSeconds * cfg.features.sampleRate));
  }

  /** Seconds of voiced audio in the training pool and held out. */
  get seconds(): { pool: number; heldOut: number } {
    const s = (clips: MelClip[]) =>
      clips.reduce((n, c) => n + c.frames, 0) * this.model.config.features.hop /
      this.model.config.features.sampleRate;
    return { pool: s(this.pool), heldOut: s(this.heldOut) };
  }

  /** Adds voiced samples (model rate); complete blocks become features. */
  async addVoiced(samples: Float32Array): Promise<void> {
    let i = 0;
    while (i < samples.length) {
      const n = Math.min(this.#pending.length - this.#pendingLen, samples.length - i);
      this.#pending.set(samples.subarray(i, i + n), this.#pendingLen);
      this.#pendingLen += n;
      i += n;
      if (this.#pendingLen === this.#pending.length) {
        this.#pendingLen = 0;
        await this.#addBlock(this.#pending.slice());
      }
    }
  }

  async #addBlock(samples: Float32Array): Promise<void> {
    const clip = await melClip(this.#logMel, samples, `voiced-${this.#blocks++}`);
    if (this.base) this.#baseError.set(clip, await reconstructionMse(this.base, [clip]));
    this.heldOut.push(clip);
    const maxHeld = Math.max(1, Math.round(this.config.heldOutSeconds / this.config.blockSeconds));
    while (this.heldOut.length > maxHeld) this.pool.push(this.heldOut.shift()!);
    const maxPool = Math.max(1, Math.round(this.config.maxPoolSeconds / this.config.blockSeconds));
    while (this.pool.length > maxPool) this.pool.shift();
  }

  /** Whether there is voiced audio to train on. */
  get ready(): boolean {
    return this.pool.length > 0;
  }

  #uniform(): number {
    const [u, s] = mulberry32Next(this.#rng);
    this.#rng = s;
    return u;
  }

  #crops(clips: readonly MelClip[], count: number, out: Float32Array, at: number): void {
    const { cropFrames } = this.config;
    const nMels = this.model.config.features.nMels;
    for (let b = 0; b < count; b++) {
      const clip = clips[Math.floor(this.#uniform() * clips.length)];
      const start = Math.floor(this.#uniform() * Math.max(1, clip.frames - cropFrames + 1));
      writeCropChannelsFirst(clip, nMels, start, cropFrames, out, (at + b) * nMels * cropFrames);
    }
  }

  /** The encoder's posterior, with gradients only through its trainable tail. */
  #encode(x: ag.Tensor): { mu: ag.Tensor; logvar: ag.Tensor } {
    const layers = this.model.encoder.layers.layers;
    const cut = layers.length - this.config.encoderLayers;
    let h = ag.noGrad(() => {
      let y = x;
      for (let i = 0; i < cut; i++) y = layers[i].forward(y);
      return y;
    });
    for (let i = cut; i < layers.length; i++) h = layers[i].forward(h);
    const l = h.shape[1] / 2;
    return { mu: h.slice(1, 0, l), logvar: h.slice(1, l, 2 * l) };
  }

  /** One adaptation step on voiced + replay crops. */
  async adaptStep(): Promise<AdaptStepStats> {
    if (!this.ready) throw new Error("adapt: no voiced audio to train on yet");
    const { batch, cropFrames, l2sp, replayWeight, gradClip } = this.config;
    const replayBatch = this.replay.length ? this.config.replayBatch : 0;
    const nMels = this.model.config.features.nMels;
    const total = batch + replayBatch;
    const data = new Float32Array(total * nMels * cropFrames);
    this.#crops(this.pool, batch, data, 0);
    if (replayBatch) this.#crops(this.replay, replayBatch, data, batch);
    const values = await ag.tidy(async () => {
      const x = this.model.normalize(ag.tensor(data, [total, nMels, cropFrames]));
      const { mu, logvar } = this.#encode(x);
      const z = reparameterize(mu, logvar, this.#gen);
      const xHat = this.model.decoder.forward(z);
      const nll = reconstructionNll(this.model.config, x, xHat, this.model.logScale);
      const voiced = nll.slice(0, 0, batch).sum().mul(1 / (batch * cropFrames));
      let loss = voiced;
      let replay = ag.full([], NaN);
      if (replayBatch) {
        replay = nll.slice(0, batch, total).sum().mul(1 / (replayBatch * cropFrames));
        loss = loss.add(replay.mul(replayWeight));
      }
      if (this.config.encoderLayers > 0) {
        const kl = klStandardNormal(mu, logvar).sum().mul(1 / (total * cropFrames));
        loss = loss.add(kl);
      }
      let drift = ag.zeros([]);
      for (const [name, p] of this.trainable) {
        drift = drift.add(p.sub(this.#anchors.get(name)!).square().sum());
      }
      loss = loss.add(drift.mul(l2sp));
      loss.backward();
      const norm = ag.clipGradNorm(this.trainable.values(), gradClip);
      const packed = ag.concat([loss, voiced, replay, drift, norm].map((s) => s.reshape([1])));
      const v = await packed.toArray();
      const finite = [v[0], v[1], v[3], v[4]].every(Number.isFinite);
      if (finite) this.optimizer.step();
      this.model.zeroGrad();
      return { v, finite };
    });
    this.step++;
    if (!values.finite) this.skippedSteps++;
    const [loss, voiced, replay, drift] = values.v;
    return { step: this.step, loss, voiced, replay, drift, skipped: !values.finite };
  }

  /** Held-out reconstruction error of the base model and of the adapted one (NaN if none). */
  async heldOutLoss(): Promise<{ base: number; now: number }> {
    if (this.heldOut.length === 0) return { base: NaN, now: NaN };
    let base = NaN;
    if (this.base) {
      let s = 0, n = 0;
      for (const c of this.heldOut) {
        s += (this.#baseError.get(c) ?? NaN) * c.frames;
        n += c.frames;
      }
      base = s / n;
    }
    return { base, now: await reconstructionMse(this.model, this.heldOut) };
  }

  /** Frees the anchors and the feature extractor. */
  dispose(): void {
    for (const t of this.#anchors.values()) t.dispose();
    this.#logMel.dispose();
  }
}
