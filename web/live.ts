/**
 * The live adaptation loop of the browser page (it runs in a Worker): microphone audio at the
 * device's rate → streaming resampler to the model rate → energy voice-activity detector →
 * {@link VoiceAdapter} (features, held-out blocks, fine-tuning steps). Between steps it keeps the
 * page informed: seconds heard and voiced, steps, held-out error base vs adapted, real-time
 * factor, and every `displayFrames` frames the normalised log-mel of what it heard beside the
 * model's reconstruction of it, for the scrolling spectrograms. It remembers the last utterance
 * (for "hear it reconstructed") and keeps a CPU copy of the weights every few seconds, so a lost
 * GPU device never loses what was learned. Everything that touches the GPU goes through one
 * {@link SerialQueue}: the engine's `tidy` scopes must not interleave. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { LogMel } from "../audio/features.ts";
import { StreamResampler } from "../audio/resample.ts";
import { EnergyVad } from "../audio/vad.ts";
import { concatSamples } from "../audio/samples.ts";
import { type AdaptConfig, DEFAULT_ADAPT, VoiceAdapter } from "../vae/adapt.ts";
import { encodeCheckpoint } from "../vae/checkpoint_format.ts";
import type { MelClip } from "../vae/data.ts";
import type { MelVae } from "../vae/model.ts";
import { samplePrior } from "../vae/sampling.ts";
import type { LiveSettings } from "./protocol.ts";

/** Audio waiting beyond this many seconds pauses the spectrograms. */
const MAX_DISPLAY_BACKLOG_SECONDS = 2;

/** Runs async jobs one at a time, in the order they were queued. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `job` after every job queued before it; resolves or rejects with its result. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(job);
    this.#tail = result.catch(() => {});
    return result;
  }
}

/** How the page adapts (the adapter's settings plus the loop's). */
export interface LiveConfig {
  adapt: AdaptConfig;
  /** Adaptation steps per second of voiced audio in the training pool (as `listen`). */
  stepsPerSecond: number;
  /** Frames per spectrogram update (a multiple of the model's hop factor). */
  displayFrames: number;
  /** Seconds between CPU copies of the weights (kept for a lost device). */
  snapshotSeconds: number;
  /** Seconds between evaluations of the held-out error (a forward pass per held-out block). */
  heldOutEverySeconds: number;
  /** Silence that ends an utterance, seconds. */
  utteranceGapSeconds: number;
  /** The last utterance keeps at most this many seconds. */
  maxUtteranceSeconds: number;
}

/**
 * The page's defaults (the adapter's as `listen` uses them, 4 steps per voiced second, at
 * `baseLr`: {@link adaptationLr} of the base), overridden by `s`.
 */
export function liveConfig(s: LiveSettings = {}, baseLr = DEFAULT_ADAPT.lr): LiveConfig {
  return {
    adapt: {
      ...DEFAULT_ADAPT,
      batch: s.batch ?? DEFAULT_ADAPT.batch,
      replayBatch: s.replayBatch ?? DEFAULT_ADAPT.replayBatch,
      cropFrames: s.cropFrames ?? DEFAULT_ADAPT.cropFrames,
      heldOutSeconds: s.heldOutSeconds ?? DEFAULT_ADAPT.heldOutSeconds,
      lr: s.lr ?? baseLr,
      encoderLayers: s.encoderLayers ?? DEFAULT_ADAPT.encoderLayers,
    },
    stepsPerSecond: s.stepsPerSecond ?? 4,
    displayFrames: s.displayFrames ?? 32,
    snapshotSeconds: 5,
    heldOutEverySeconds: 2,
    utteranceGapSeconds: 0.4,
    maxUtteranceSeconds: 6,
  };
}

/** What the page shows. */
export interface LiveStats {
  heardSeconds: number;
  voicedSeconds: number;
  /** Voiced seconds in the training pool and held out. */
  poolSeconds: number;
  heldOutSeconds: number;
  steps: number;
  skippedSteps: number;
  /** Held-out reconstruction error (MSE of the normalised log-mel) of the base and adapted model. */
  heldOut: { base: number; now: number };
  /** Loss of the last step (NaN before the first). */
  loss: number;
  /** Seconds of audio processed per second of wall time since listening started. */
  realTimeFactor: number;
  /** Share of wall time spent in adaptation steps. */
  gpuBusy: number;
  /** Steps per second of time spent stepping. */
  stepsPerSecond: number;
  /** Audio received but not processed yet, seconds. */
  backlogSeconds: number;
  /** Seconds of the last complete (or current) utterance. */
  utteranceSeconds: number;
  learning: boolean;
}

/** Normalised log-mel frames of some audio and the model's reconstruction of them (z = μ). */
export interface MelPair {
  frames: number;
  nMels: number;
  /** [frames, nMels], time-major, normalised by the model's per-band statistics. */
  input: Float32Array;
  /** [frames, nMels], the decoder's mean for the encoder's μ. */
  reconstruction: Float32Array;
}

/**
 * Normalised log-mel of `samples` (model rate) and its reconstruction, over the largest multiple
 * of the model's hop factor of frames (at most `maxFrames`).
 */
export function melPair(
  model: MelVae,
  logMel: LogMel,
  samples: Float32Array,
  maxFrames = Infinity,
): Promise<MelPair> {
  const nMels = model.config.features.nMels;
  return ag.tidy(async () => {
    const [input, reconstruction, frames] = ag.noGrad(() => {
      const mel = logMel.forward(ag.tensor(samples, [1, samples.length])); // [1, nMels, F]
      const frames = Math.floor(Math.min(mel.shape[2], maxFrames) / model.hopFactor) *
        model.hopFactor;
      if (frames === 0) throw new Error(`${samples.length} samples are too few to encode`);
      const x = model.normalize(mel.slice(2, 0, frames));
      const xHat = model.decoder.forward(model.encoder.encode(x).mu);
      return [x.transpose(1, 2), xHat.transpose(1, 2), frames] as const;
    });
    const [a, b] = await Promise.all([input.toArray(), reconstruction.toArray()]);
    return { frames, nMels, input: a, reconstruction: b };
  });
}

/** How many prior samples the page rehearses, and how long each is. */
export const PRIOR_REPLAY = { clips: 8, seconds: 2 } as const;

/**
 * Replay clips drawn from the base model's prior (generative replay): log-mel frames the base
 * model decodes from z ~ N(0, I). A page has no pretraining corpus to rehearse, but rehearsing
 * what the base model produces keeps the adapted decoder close to it in the same way.
 */
export async function priorReplay(
  base: MelVae,
  clips: number,
  seconds: number,
  seed = 1,
): Promise<MelClip[]> {
  const nMels = base.config.features.nMels;
  const out: MelClip[] = [];
  for (let i = 0; i < clips; i++) {
    const mel = await ag.tidy(() => samplePrior(base, seconds, seed + i).toArray());
    out.push({ name: `prior-${i}`, frames: mel.length / nMels, mel });
  }
  return out;
}

/** Callbacks of a {@link LiveAdaptation}. */
export interface LiveHooks {
  onStatus(stats: LiveStats): void;
  onFrames(pair: MelPair): void;
  /** The loop stopped on an error (e.g. a lost device); what was learned is in the snapshot. */
  onError(error: Error): void;
}

/** The loop; `push` audio, `run` it, and ask it for stats, the last utterance or a snapshot. */
export class LiveAdaptation {
  readonly adapter: VoiceAdapter;
  readonly #resampler: StreamResampler;
  readonly #vad: EnergyVad;
  readonly #logMel: LogMel;
  readonly #queue: Float32Array[] = [];
  #queued = 0;
  #wake: (() => void) | null = null;
  #display: Float32Array[] = [];
  #displayed = 0;
  #utterance: Float32Array[] = [];
  #utteranceLength = 0;
  #lastUtterance: Float32Array | null = null;
  #silentSamples = 0;
  #stopped = false;
  #startMs = 0;
  #busyMs = 0;
  #processedSamples = 0;
  #heldOut = { base: NaN, now: NaN };
  #loss = NaN;
  #snapshot: { bytes: Uint8Array; step: number } | null = null;
  #snapshotMs = 0;
  learning = true;
  /** The base's training speech, carried in every snapshot (so a download can be adapted again). */
  carriedReplay: readonly MelClip[] | undefined = undefined;

  constructor(
    readonly model: MelVae,
    base: MelVae,
    replay: readonly MelClip[],
    readonly deviceRate: number,
    readonly config: LiveConfig,
    readonly gpu: SerialQueue,
    readonly hooks: LiveHooks,
  ) {
    if (config.displayFrames % model.hopFactor !== 0) {
      throw new Error(
        `displayFrames ${config.displayFrames} must be a multiple of ${model.hopFactor}`,
      );
    }
    const rate = model.config.features.sampleRate;
    this.adapter = new VoiceAdapter(model, base, replay, config.adapt);
    this.#resampler = new StreamResampler(deviceRate, rate);
    this.#vad = new EnergyVad(rate);
    this.#logMel = new LogMel(model.config.features);
  }

  /** Queues audio at the device rate (called as it arrives). */
  push(samples: Float32Array): void {
    this.#queue.push(samples);
    this.#queued += samples.length;
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #waitForAudio(ms: number): Promise<void> {
    if (this.#queue.length || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Resampling, voice detection, features and the spectrogram frames of queued audio. */
  async #ingest(): Promise<void> {
    const x = concatSamples(this.#queue.splice(0));
    this.#queued = 0;
    this.#processedSamples += x.length;
    const y = this.#resampler.push(x);
    if (y.length === 0) return;
    // Frame by frame, so that the pauses between utterances are seen however much audio
    // arrived at once (after a stall the queue holds seconds).
    const voicedParts: Float32Array[] = [];
    for (let i = 0; i < y.length; i += this.#vad.frame) {
      const v = this.#vad.push(y.subarray(i, i + this.#vad.frame));
      this.#trackUtterance(Math.min(this.#vad.frame, y.length - i), v);
      if (v.length) voicedParts.push(v);
    }
    await this.adapter.addVoiced(concatSamples(voicedParts));
    this.#display.push(y);
    this.#displayed += y.length;
    const chunk = this.config.displayFrames * this.model.config.features.hop;
    while (this.#displayed >= chunk) {
      const all = concatSamples(this.#display);
      this.#display = [all.slice(chunk)];
      this.#displayed = all.length - chunk;
      // Catching up after a stall (a slow GPU), only the newest seconds are drawn: learning
      // goes first, and the spectrograms skip what they would show late anyway.
      const behind = this.#displayed / this.model.config.features.sampleRate +
        this.#queued / this.deviceRate;
      if (behind > MAX_DISPLAY_BACKLOG_SECONDS) continue;
      this.hooks.onFrames(
        await melPair(this.model, this.#logMel, all.subarray(0, chunk), this.config.displayFrames),
      );
    }
  }

  #trackUtterance(heard: number, voiced: Float32Array): void {
    const rate = this.model.config.features.sampleRate;
    if (voiced.length) {
      this.#utterance.push(voiced);
      this.#utteranceLength += voiced.length;
      this.#silentSamples = 0;
      // Keep the newest maxUtteranceSeconds (drop whole pieces while that leaves enough).
      const max = this.config.maxUtteranceSeconds * rate;
      while (this.#utteranceLength - this.#utterance[0].length >= max) {
        this.#utteranceLength -= this.#utterance.shift()!.length;
      }
    } else {
      this.#silentSamples += heard;
      if (this.#utterance.length && this.#silentSamples >= this.config.utteranceGapSeconds * rate) {
        this.#lastUtterance = this.#takeUtterance();
      }
    }
  }

  #takeUtterance(): Float32Array {
    const all = this.#currentUtterance();
    this.#utterance = [];
    this.#utteranceLength = 0;
    return all;
  }

  /** The utterance going on, cut to its newest maxUtteranceSeconds. */
  #currentUtterance(): Float32Array {
    const max = this.config.maxUtteranceSeconds * this.model.config.features.sampleRate;
    const all = concatSamples(this.#utterance);
    return all.slice(Math.max(0, all.length - max));
  }

  /** The last utterance heard (or the one still going on), at the model rate; null if none. */
  lastUtterance(): Float32Array | null {
    return this.#utterance.length ? this.#currentUtterance() : this.#lastUtterance;
  }

  /** The current numbers. */
  stats(): LiveStats {
    const now = performance.now();
    const wall = Math.max((now - this.#startMs) / 1000, 1e-9);
    const { heard, voiced } = this.#vad.seconds;
    const { pool, heldOut } = this.adapter.seconds;
    const rate = this.model.config.features.sampleRate;
    return {
      heardSeconds: heard,
      voicedSeconds: voiced,
      poolSeconds: pool,
      heldOutSeconds: heldOut,
      steps: this.adapter.step,
      skippedSteps: this.adapter.skippedSteps,
      heldOut: this.#heldOut,
      loss: this.#loss,
      realTimeFactor: this.#startMs ? this.#processedSamples / this.deviceRate / wall : 0,
      gpuBusy: this.#startMs ? this.#busyMs / (now - this.#startMs) : 0,
      stepsPerSecond: this.#busyMs > 0 ? this.adapter.step / (this.#busyMs / 1000) : 0,
      backlogSeconds: this.#queued / this.deviceRate,
      utteranceSeconds: (this.lastUtterance()?.length ?? 0) / rate,
      learning: this.learning,
    };
  }

  /** Adapts until {@link stop}; errors end the loop and go to `onError`. */
  async run(): Promise<void> {
    this.#startMs = performance.now();
    this.#snapshotMs = this.#startMs;
    let lastStatus = 0, lastHeldOut = 0;
    try {
      while (!this.#stopped) {
        if (this.#queue.length) await this.gpu.run(() => this.#ingest());
        const target = Math.floor(this.config.stepsPerSecond * this.adapter.seconds.pool);
        if (this.learning && this.adapter.ready && this.adapter.step < target) {
          await this.gpu.run(async () => {
            const t0 = performance.now();
            const s = await this.adapter.adaptStep();
            this.#busyMs += performance.now() - t0;
            if (!s.skipped) this.#loss = s.loss;
          });
        } else await this.#waitForAudio(100);
        const now = performance.now();
        if (now - lastHeldOut >= this.config.heldOutEverySeconds * 1000) {
          lastHeldOut = now;
          this.#heldOut = await this.gpu.run(() => this.adapter.heldOutLoss());
        }
        if (now - lastStatus >= 500) {
          lastStatus = now;
          this.hooks.onStatus(this.stats());
        }
        if (now - this.#snapshotMs >= this.config.snapshotSeconds * 1000) {
          await this.takeSnapshot();
        }
      }
    } catch (e) {
      this.#stopped = true;
      this.hooks.onError(e as Error);
    }
  }

  /** Refreshes the CPU copy of the weights (skipped when nothing changed since the last). */
  takeSnapshot(): Promise<{ bytes: Uint8Array; step: number }> {
    this.#snapshotMs = performance.now();
    // In the queue, after any step queued before: the step count and the weights agree.
    return this.gpu.run(async () => {
      const step = this.adapter.step;
      if (this.#snapshot?.step !== step) {
        this.#snapshot = {
          bytes: await encodeCheckpoint(this.model, { replay: this.carriedReplay }),
          step,
        };
      }
      return this.#snapshot!;
    });
  }

  /** {@link melPair} of some samples at the model rate, through the adapted model. */
  melPairOf(samples: Float32Array): Promise<MelPair> {
    return this.gpu.run(() => melPair(this.model, this.#logMel, samples));
  }

  /** The last CPU copy of the weights (null before the first). */
  get snapshot(): { bytes: Uint8Array; step: number } | null {
    return this.#snapshot;
  }

  /** Ends the loop after the current step. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  /** Frees the adapter's anchors and the feature extractor (the models stay). */
  dispose(): void {
    this.adapter.dispose();
    this.#logMel.dispose();
  }
}
