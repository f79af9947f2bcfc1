/**
 * Band-limited resampling by a rational ratio (polyphase windowed sinc, Kaiser window), the
 * same design as resampy/librosa's "kaiser_best": the ratio is reduced by its gcd, one filter
 * phase per output position in the input-sample grid is precomputed, and the cutoff sits a
 * little below the lower Nyquist so that aliasing is pushed under about -100 dB.
 * Accumulation is in float64; output is Float32Array. {@link StreamResampler} applies the same
 * filter to a stream, block by block, with the same output away from the stream's ends.
 * @module
 */
import { concatSamples } from "./samples.ts";

/** Filter design for {@linkcode resample}. Defaults suit speech (≥ 100 dB stopband). */
export interface ResampleOptions {
  /** Sinc zero crossings on each side of the centre tap (filter half-length), default 32. */
  zeroCrossings?: number;
  /** Cutoff as a fraction of the lower Nyquist frequency, default 0.945. */
  rolloff?: number;
  /** Kaiser window β (larger: deeper stopband, wider transition), default 12. */
  beta?: number;
}

const DEFAULT_OPTIONS: Readonly<Required<ResampleOptions>> = Object.freeze({
  zeroCrossings: 32,
  rolloff: 0.945,
  beta: 12,
});

const MAX_TABLE_PHASES = 4096;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Zeroth-order modified Bessel function of the first kind (series; converges fast for β ≤ 20). */
function besselI0(x: number): number {
  let sum = 1, term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Cutoff in cycles per input sample; below 0.5 · rolloff when downsampling (a wider filter). */
function cutoffOf(fromRate: number, toRate: number, rolloff: number): number {
  return 0.5 * rolloff * Math.min(1, toRate / fromRate);
}

/**
 * How many input samples on each side of an output instant the filter reads (its half-width,
 * rounded up): the context a block of a stream needs.
 */
function filterReach(fromRate: number, toRate: number, options: ResampleOptions = {}) {
  const { zeroCrossings, rolloff } = { ...DEFAULT_OPTIONS, ...options };
  return Math.ceil(zeroCrossings / (2 * cutoffOf(fromRate, toRate, rolloff)));
}

/** The filter as a function of the offset `t` from the output instant, in input samples. */
function makeKernel(fromRate: number, toRate: number, options: ResampleOptions) {
  const { zeroCrossings, rolloff, beta } = { ...DEFAULT_OPTIONS, ...options };
  const cutoff = cutoffOf(fromRate, toRate, rolloff);
  const halfWidth = zeroCrossings / (2 * cutoff); // in input samples
  const i0Beta = besselI0(beta);
  const kernel = (t: number): number => {
    const r = t / halfWidth;
    if (r <= -1 || r >= 1) return 0;
    const x = 2 * cutoff * t;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    return 2 * cutoff * sinc * besselI0(beta * Math.sqrt(1 - r * r)) / i0Beta;
  };
  return { kernel };
}

/**
 * Resample a mono signal from `fromRate` to `toRate` (Hz, integers), like
 * `librosa.resample(y, orig_sr=fromRate, target_sr=toRate)`. Output length is
 * `ceil(samples.length * toRate / fromRate)`; the signal is zero outside its ends.
 *
 * @example
 * ```ts
 * import { resample } from "./resample.ts";
 * const y48 = Float32Array.from({ length: 48000 }, (_, i) => Math.sin(2 * Math.PI * 440 * i / 48000));
 * const y16 = resample(y48, 48000, 16000);
 * console.log(y16.length); // 16000
 * ```
 */
export function resample(
  samples: Float32Array,
  fromRate: number,
  toRate: number,
  options: ResampleOptions = {},
): Float32Array {
  for (const rate of [fromRate, toRate]) {
    if (!Number.isInteger(rate) || rate <= 0) {
      throw new RangeError(`resample: sample rates must be positive integers, got ${rate}`);
    }
  }
  if (fromRate === toRate) return samples.slice();
  const g = gcd(fromRate, toRate);
  const up = toRate / g; // output n sits at input time n * down / up
  const down = fromRate / g;
  const outLength = Math.ceil((samples.length * up) / down);
  const out = new Float32Array(outLength);
  const { kernel } = makeKernel(fromRate, toRate, options);
  const reach = filterReach(fromRate, toRate, options);
  const taps = 2 * reach + 1;
  const n = samples.length;

  // One row of `taps` weights per phase p = (n * down) mod up: input j = i - reach + k sits
  // at offset (i + p/up) - j from the output instant.
  const table = up <= MAX_TABLE_PHASES ? new Float64Array(up * taps) : undefined;
  if (table) {
    for (let p = 0; p < up; p++) {
      for (let k = 0; k < taps; k++) table[p * taps + k] = kernel(p / up + reach - k);
    }
  }
  for (let o = 0; o < outLength; o++) {
    const num = o * down;
    const i = Math.floor(num / up);
    const p = num - i * up;
    const first = i - reach;
    const kStart = Math.max(0, -first);
    const kEnd = Math.min(taps, n - first);
    let acc = 0;
    if (table) {
      const row = p * taps;
      for (let k = kStart; k < kEnd; k++) acc += table[row + k] * samples[first + k];
    } else {
      for (let k = kStart; k < kEnd; k++) acc += kernel(p / up + reach - k) * samples[first + k];
    }
    out[o] = acc;
  }
  return out;
}

/**
 * Streaming band-limited resampling with the offline {@link resample}: input is cut into blocks
 * whose length maps to a whole number of output samples, each resampled together with `pad`
 * samples of context on both sides (≥ the filter's reach), and only the block's own outputs are
 * kept. Output equals the offline result away from the very ends; latency is one block + pad.
 */
export class StreamResampler {
  readonly #block: number;
  readonly #pad: number;
  readonly #ratio: number;
  #pending: Float32Array;
  #used = 0;
  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    readonly options: ResampleOptions = {},
  ) {
    const down = fromRate / gcd(fromRate, toRate);
    this.#ratio = toRate / fromRate;
    // Context of the filter's reach (+ 2 for the rounding of output instants), in whole
    // periods of the ratio so that every block starts on the same filter phase.
    const reach = filterReach(fromRate, toRate, options) + 2;
    this.#pad = Math.ceil(reach / down) * down;
    this.#block = Math.max(1, Math.round(fromRate / 10 / down)) * down;
    this.#pending = new Float32Array(this.#pad); // leading context: silence
    this.#used = this.#pad;
  }

  /** Adds input; returns the output samples that are now final. */
  push(x: Float32Array): Float32Array {
    if (this.fromRate === this.toRate) return x;
    this.#append(x);
    return this.#drain();
  }

  /** Ends the stream (pads with silence); returns the remaining output. */
  flush(): Float32Array {
    if (this.fromRate === this.toRate) return new Float32Array(0);
    const real = this.#used - this.#pad;
    this.#append(new Float32Array(this.#block + this.#pad));
    const out = this.#drain();
    return out.subarray(0, Math.min(out.length, Math.ceil(real * this.#ratio)));
  }

  #append(x: Float32Array): void {
    if (this.#used + x.length > this.#pending.length) {
      const grown = new Float32Array(Math.max(2 * this.#pending.length, this.#used + x.length));
      grown.set(this.#pending.subarray(0, this.#used));
      this.#pending = grown;
    }
    this.#pending.set(x, this.#used);
    this.#used += x.length;
  }

  #drain(): Float32Array {
    const parts: Float32Array[] = [];
    const span = this.#block + 2 * this.#pad;
    let start = 0;
    while (this.#used - start >= span) {
      const y = resample(
        this.#pending.subarray(start, start + span),
        this.fromRate,
        this.toRate,
        this.options,
      );
      const a = Math.round(this.#pad * this.#ratio);
      parts.push(y.slice(a, a + Math.round(this.#block * this.#ratio)));
      start += this.#block;
    }
    if (start > 0) {
      this.#pending.copyWithin(0, start, this.#used);
      this.#used -= start;
    }
    return concatSamples(parts);
  }
}
