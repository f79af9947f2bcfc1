/**
 * Training segments for the vocoder: random windows of real speech, each with the context its
 * features need. A batch holds, per segment, `segmentSamples + nFft (+ extra)` samples: the
 * segment itself plus nFft/2 samples of real signal on each side (the clip reflect-padded at its
 * ends, as a centred STFT pads), so that log-mel frames computed on it with `center: false` are
 * exactly the frames a centred STFT of the whole clip gives at those positions, and the target
 * waveform is the middle `segmentSamples`. Each segment gets a random gain (dB). Clips are drawn
 * in proportion to their length, so every second of speech is equally likely. The sampler's whole
 * state is one integer (mulberry32), saved in checkpoints to resume the same stream.
 * Portable: typed arrays only.
 * @module
 */
import { centerPad } from "../audio/features.ts";
import { mulberry32Next } from "../vae/data.ts";

/** A batch of segments, flattened [batch, samplesPerSegment] row-major. */
export interface SegmentBatch {
  audio: Float32Array;
  batch: number;
  /** Samples per row: segmentSamples + nFft + extraSamples. */
  samplesPerSegment: number;
}

/** Draws batches of random segments with context. */
export class SegmentSampler {
  readonly #padded: Float32Array[];
  readonly #cumulative: Float64Array;
  #state: number;

  /**
   * `clips`: mono audio at the features' rate. `segmentSamples`: the target length (a multiple
   * of the hop). `extraSamples`: additional right context (e.g. to round the frame count up for
   * a model that needs a multiple of its own hop).
   */
  constructor(
    clips: readonly Float32Array[],
    readonly nFft: number,
    readonly segmentSamples: number,
    readonly batch: number,
    readonly gainDb: readonly [number, number],
    seed: number,
    readonly extraSamples = 0,
  ) {
    const usable = clips.filter((c) => c.length > nFft / 2 + 1);
    if (usable.length === 0) throw new Error("SegmentSampler: no clip is long enough to train on");
    this.#padded = usable.map((c) => centerPad(c, nFft));
    this.#cumulative = new Float64Array(usable.length);
    let acc = 0;
    usable.forEach((c, i) => this.#cumulative[i] = acc += c.length);
    this.#state = seed >>> 0;
  }

  /** Samples per row of a batch. */
  get samplesPerSegment(): number {
    return this.segmentSamples + this.nFft + this.extraSamples;
  }

  /** Seconds of audio the sampler draws from. */
  get seconds(): number {
    return this.#cumulative[this.#cumulative.length - 1];
  }

  /** The sampler's state (save it to resume the same stream). */
  get state(): number {
    return this.#state;
  }
  set state(s: number) {
    this.#state = s >>> 0;
  }

  #uniform(): number {
    const [u, s] = mulberry32Next(this.#state);
    this.#state = s;
    return u;
  }

  /** One batch. */
  next(): SegmentBatch {
    const width = this.samplesPerSegment;
    const audio = new Float32Array(this.batch * width);
    const total = this.#cumulative[this.#cumulative.length - 1];
    for (let b = 0; b < this.batch; b++) {
      const target = this.#uniform() * total;
      let lo = 0, hi = this.#cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.#cumulative[mid] > target) hi = mid;
        else lo = mid + 1;
      }
      const padded = this.#padded[lo];
      const clipLength = padded.length - this.nFft;
      const start = Math.floor(this.#uniform() * Math.max(1, clipLength - this.segmentSamples + 1));
      const [gLo, gHi] = this.gainDb;
      const gain = 10 ** ((gLo + (gHi - gLo) * this.#uniform()) / 20);
      // Past the padded clip's end: silence.
      const end = Math.min(padded.length, start + width);
      for (let i = start; i < end; i++) audio[b * width + i - start] = padded[i] * gain;
    }
    return { audio, batch: this.batch, samplesPerSegment: width };
  }
}
