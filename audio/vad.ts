/**
 * Voice activity detection: frame energy (dBFS, frame mean removed) against an adaptive noise floor.
 * The floor is a minimum statistic: the lowest frame energy of the last `floorWindowSeconds`,
 * so it follows a steady noise within that window (a hum or fan that starts stops counting as
 * voice after at most the window) while
 * the short pauses of speech keep it down. A frame is voiced when its energy is `thresholdDb`
 * above the floor and above an absolute gate; voiced runs are extended by a hangover and must
 * last `minVoicedSeconds`, so clicks are not learned. Portable: typed arrays only.
 * @module
 */
import { concatSamples } from "./samples.ts";

/** Tuning of {@link EnergyVad}. */
export interface VadOptions {
  /** Frame length, seconds (default 0.02). */
  frameSeconds?: number;
  /** dB above the noise floor for voice (default 9). */
  thresholdDb?: number;
  /** Frames below this (dBFS) are never voice (default -55). */
  absoluteGateDb?: number;
  /** Window of the minimum statistic (default 2 s). */
  floorWindowSeconds?: number;
  /** Voice continues this long after the last loud frame (default 0.15 s). */
  hangoverSeconds?: number;
  /** Shorter voiced runs are dropped (default 0.1 s). */
  minVoicedSeconds?: number;
}

/** Streaming VAD: push samples, get back the voiced ones (delayed by at most a frame + run). */
export class EnergyVad {
  readonly frame: number;
  readonly #o: Required<VadOptions>;
  readonly #history: Float64Array;
  #histPos = 0;
  #histCount = 0;
  #partial: Float32Array;
  #partialLen = 0;
  #hang = 0;
  /** Frames of the current voiced run (not yet long enough to be released). */
  #run: Float32Array[] = [];
  #released = false;
  /** Frames seen and voiced frames released. */
  frames = 0;
  voicedFrames = 0;
  /** Current noise floor estimate, dBFS. */
  floorDb = -Infinity;

  constructor(readonly sampleRate: number, opts: VadOptions = {}) {
    this.#o = {
      frameSeconds: 0.02,
      thresholdDb: 9,
      absoluteGateDb: -55,
      floorWindowSeconds: 2,
      hangoverSeconds: 0.15,
      minVoicedSeconds: 0.1,
      ...opts,
    };
    this.frame = Math.max(1, Math.round(sampleRate * this.#o.frameSeconds));
    this.#history = new Float64Array(
      Math.max(1, Math.round(this.#o.floorWindowSeconds / this.#o.frameSeconds)),
    );
    this.#partial = new Float32Array(this.frame);
  }

  /** Seconds of input seen and of voice released so far. */
  get seconds(): { heard: number; voiced: number } {
    const f = this.frame / this.sampleRate;
    return { heard: this.frames * f, voiced: this.voicedFrames * f };
  }

  /** Energy of one frame in dBFS (the frame's mean removed). */
  #energyDb(x: Float32Array): number {
    let m = 0;
    for (let i = 0; i < x.length; i++) m += x[i];
    m /= x.length;
    let s = 0;
    for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
    return 10 * Math.log10(s / x.length + 1e-12) + 3.01; // + 3 dB: a full-scale sine is 0 dBFS
  }

  /** Is this frame voice? Updates the floor. */
  classify(x: Float32Array): boolean {
    const e = this.#energyDb(x);
    this.#history[this.#histPos] = e;
    this.#histPos = (this.#histPos + 1) % this.#history.length;
    this.#histCount = Math.min(this.#histCount + 1, this.#history.length);
    let floor = Infinity;
    for (let i = 0; i < this.#histCount; i++) floor = Math.min(floor, this.#history[i]);
    this.floorDb = floor;
    return e > this.#o.absoluteGateDb && e > floor + this.#o.thresholdDb;
  }

  /** Feeds samples; returns the voiced samples released by them. */
  push(samples: Float32Array): Float32Array {
    const out: Float32Array[] = [];
    let i = 0;
    while (i < samples.length) {
      const n = Math.min(this.frame - this.#partialLen, samples.length - i);
      this.#partial.set(samples.subarray(i, i + n), this.#partialLen);
      this.#partialLen += n;
      i += n;
      if (this.#partialLen < this.frame) break;
      this.#partialLen = 0;
      const frame = this.#partial.slice();
      this.#frame(frame, out);
    }
    return concatSamples(out);
  }

  #frame(frame: Float32Array, out: Float32Array[]): void {
    this.frames++;
    const loud = this.classify(frame);
    const hangFrames = Math.round(this.#o.hangoverSeconds / this.#o.frameSeconds);
    const minFrames = Math.max(1, Math.round(this.#o.minVoicedSeconds / this.#o.frameSeconds));
    if (loud) this.#hang = hangFrames;
    else if (this.#hang > 0) this.#hang--;
    else {
      this.#run = [];
      this.#released = false;
      return;
    }
    if (this.#released) {
      out.push(frame);
      this.voicedFrames++;
      return;
    }
    this.#run.push(frame);
    if (this.#run.length >= minFrames) {
      out.push(...this.#run);
      this.voicedFrames += this.#run.length;
      this.#run = [];
      this.#released = true;
    }
  }
}
