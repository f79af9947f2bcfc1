/**
 * Voice activity detection: frame energy (dBFS, frame mean removed) against an adaptive noise floor.
 * The floor is a minimum statistic: the lowest frame energy of the last `floorWindowSeconds`, so
 * the short pauses of speech keep it down. A steady sound is noise whatever came before it: while
 * the frames of the last `steadySeconds` stay within `steadyDb` of each other (a fan, a hum), the
 * floor rises to their level, so such a sound stops counting as voice within that window even
 * right after silence (which the floor window alone would remember for its whole length). A
 * frame is voiced when its energy is `thresholdDb` above the floor and above an absolute gate;
 * voiced runs are extended by a hangover and must last `minVoicedSeconds`, so clicks are not
 * learned. Portable: typed arrays only.
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
  /** Window in which a sound that stays within `steadyDb` counts as steady (default 0.3 s). */
  steadySeconds?: number;
  /** Spread of frame energies (max − min, dB) under which a sound is steady (default 3). */
  steadyDb?: number;
}

/** Streaming VAD: push samples, get back the voiced ones (delayed by at most a frame + run). */
export class EnergyVad {
  readonly frame: number;
  readonly #o: Required<VadOptions>;
  readonly #history: Float64Array;
  /** Frames of the steady-sound window (the newest of #history). */
  readonly #steadyFrames: number;
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
      steadySeconds: 0.3,
      steadyDb: 3,
      ...opts,
    };
    this.frame = Math.max(1, Math.round(sampleRate * this.#o.frameSeconds));
    this.#history = new Float64Array(
      Math.max(1, Math.round(this.#o.floorWindowSeconds / this.#o.frameSeconds)),
    );
    this.#steadyFrames = Math.max(
      2,
      Math.min(this.#history.length, Math.round(this.#o.steadySeconds / this.#o.frameSeconds)),
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

  /**
   * Is this frame voice? Updates the floor: the quietest frame of the floor window, or, while
   * the newest `steadySeconds` of frames stay within `steadyDb` of each other, the quietest of
   * those: a sound that does not change (a fan, a hum) becomes the floor within that window,
   * even right after quieter audio (silence) that the long window still remembers.
   */
  classify(x: Float32Array): boolean {
    const e = this.#energyDb(x);
    const n = this.#history.length;
    this.#history[this.#histPos] = e;
    this.#histPos = (this.#histPos + 1) % n;
    this.#histCount = Math.min(this.#histCount + 1, n);
    let floor = Infinity;
    for (let i = 0; i < this.#histCount; i++) floor = Math.min(floor, this.#history[i]);
    if (this.#histCount >= this.#steadyFrames) {
      let lo = Infinity, hi = -Infinity;
      for (let k = 1; k <= this.#steadyFrames; k++) {
        const v = this.#history[(this.#histPos - k + n) % n];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      if (hi - lo < this.#o.steadyDb) floor = Math.max(floor, lo);
    }
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
