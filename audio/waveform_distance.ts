/**
 * Distances "through the waveform" (design/TARGETS.md): what a listener hears, measured between
 * an input signal and the audio a system gives back, both re-analysed here in float64 on the CPU
 * with the reference analysis — 16 kHz, n_fft 1024, hop 256, periodic Hann, centred with reflect
 * padding, power |X|², 80 HTK mel triangles of peak 1 over 0–8 kHz. The output is aligned by the
 * lag (±2048 samples) that minimises the mel distance, since a vocoder with its own phase defeats
 * waveform cross-correlation, and the floor is relative to the reference clip's peak power
 * (P = max(power, 1e-8 × peak)), so filled-in pauses and spectral valleys count.
 *
 * Independent of the engine on purpose: its own FFT and filterbank, no GPU, so a kernel bug
 * cannot hide in the measure. Portable (no Deno APIs).
 *
 * @example
 * ```ts
 * import { waveformDistance } from "./waveform_distance.ts";
 * const ref = Float32Array.from({ length: 16000 }, (_, i) => Math.sin(i * 0.1));
 * const est = ref.map((v) => 0.5 * v); // 6 dB quieter everywhere
 * const d = waveformDistance(ref, est);
 * console.log(d.melLsd.toFixed(1), d.lag); // "6.0" 0
 * ```
 * @module
 */
import type { FeatureConfig } from "./features.ts";
import { logSpectralDistance } from "./metrics.ts";
import { melFilterbank } from "./mel.ts";

/** The reference analysis of TARGETS.md (HTK triangles of peak 1; no floor or norm fields). */
export type AnalysisConfig = Pick<
  FeatureConfig,
  "sampleRate" | "nFft" | "hop" | "nMels" | "fMin" | "fMax"
>;

/** TARGETS.md: 16 kHz, n_fft 1024, hop 256, 80 HTK unit-peak mel bands, 0–8 kHz. */
export const REFERENCE_ANALYSIS: Readonly<AnalysisConfig> = Object.freeze({
  sampleRate: 16000,
  nFft: 1024,
  hop: 256,
  nMels: 80,
  fMin: 0,
  fMax: 8000,
});

/** Relative floor of the waveform distances: 1e-8 of the reference's peak power (−80 dB). */
export const RELATIVE_FLOOR = 1e-8;

/** Largest lag, in samples, searched when aligning an output to its input. */
export const MAX_LAG = 2048;

/** Power and mel power spectrograms [frames, bins] and [frames, nMels], row-major, float64. */
export interface Spectra {
  frames: number;
  power: Float64Array;
  mel: Float64Array;
}

/** In-place iterative radix-2 complex FFT of length re.length (a power of two). */
function fftInPlace(re: Float64Array, im: Float64Array, cos: Float64Array, sin: Float64Array) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const step = n / len;
    const half = len >> 1;
    for (let start = 0; start < n; start += len) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step], wi = -sin[k * step];
        const a = start + k, b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/** A reusable float64 analyser for one {@link AnalysisConfig}. */
export class ReferenceAnalyser {
  readonly config: AnalysisConfig;
  readonly nBins: number;
  readonly #window: Float64Array;
  readonly #cos: Float64Array;
  readonly #sin: Float64Array;
  /** Sparse rows of the filterbank: band m covers bins [#first[m], #first[m] + weights.length). */
  readonly #first: Int32Array;
  readonly #weights: Float64Array[];

  constructor(config: Partial<AnalysisConfig> = {}) {
    this.config = { ...REFERENCE_ANALYSIS, ...config };
    const { nFft, nMels, sampleRate, fMin, fMax } = this.config;
    if (!Number.isInteger(Math.log2(nFft))) {
      throw new Error(`reference analysis: nFft ${nFft} is not a power of two`);
    }
    this.nBins = nFft / 2 + 1;
    this.#window = Float64Array.from(
      { length: nFft },
      (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft),
    );
    this.#cos = Float64Array.from(
      { length: nFft / 2 },
      (_, k) => Math.cos((2 * Math.PI * k) / nFft),
    );
    this.#sin = Float64Array.from(
      { length: nFft / 2 },
      (_, k) => Math.sin((2 * Math.PI * k) / nFft),
    );
    const fb = melFilterbank({ sampleRate, nFft, nMels, fMin, fMax, htk: true, norm: null });
    this.#first = new Int32Array(nMels);
    this.#weights = [];
    for (let m = 0; m < nMels; m++) {
      const row = fb.subarray(m * this.nBins, (m + 1) * this.nBins);
      let lo = row.findIndex((w) => w > 0);
      if (lo < 0) lo = 0;
      let hi = this.nBins;
      while (hi > lo && row[hi - 1] === 0) hi--;
      this.#first[m] = lo;
      this.#weights.push(row.slice(lo, Math.max(hi, lo)));
    }
  }

  /** Frames of a centred STFT of `length` samples. */
  frameCount(length: number): number {
    return 1 + Math.floor(length / this.config.hop);
  }

  /**
   * Power and mel spectra of a signal. Centred: reflect-padded by nFft/2 (zero-padded where the
   * signal is too short to reflect), like librosa and the engine's STFT. With `frameStep` k > 1
   * only every k-th frame (0, k, 2k, …) is analysed: a cheaper summary for searches.
   */
  spectra(signal: ArrayLike<number>, frameStep = 1): Spectra {
    const { nFft, hop, nMels } = this.config;
    const n = signal.length;
    const half = nFft / 2;
    const at = (i: number): number => {
      // Reflect about the ends (no edge repeat), as numpy's "reflect" mode.
      if (n > half) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
        return signal[i];
      }
      return i >= 0 && i < n ? signal[i] : 0;
    };
    const frames = Math.ceil(this.frameCount(n) / frameStep);
    const power = new Float64Array(frames * this.nBins);
    const mel = new Float64Array(frames * nMels);
    const re = new Float64Array(nFft), im = new Float64Array(nFft);
    const nBins = this.nBins;
    // Two real frames per complex FFT: frame f in the real part, frame f + 1 in the imaginary
    // part; Z = A + iB splits as A[k] = (Z[k] + conj Z[N−k]) / 2, B[k] = (Z[k] − conj Z[N−k]) / 2i.
    for (let f = 0; f < frames; f += 2) {
      const startA = f * frameStep * hop - half;
      const startB = (f + 1) * frameStep * hop - half;
      const hasB = f + 1 < frames;
      for (let i = 0; i < nFft; i++) {
        re[i] = at(startA + i) * this.#window[i];
        im[i] = hasB ? at(startB + i) * this.#window[i] : 0;
      }
      fftInPlace(re, im, this.#cos, this.#sin);
      for (let k = 0; k < nBins; k++) {
        const j = (nFft - k) % nFft;
        const ar = 0.5 * (re[k] + re[j]), ai = 0.5 * (im[k] - im[j]);
        power[f * nBins + k] = ar * ar + ai * ai;
        if (hasB) {
          const br = 0.5 * (im[k] + im[j]), bi = -0.5 * (re[k] - re[j]);
          power[(f + 1) * nBins + k] = br * br + bi * bi;
        }
      }
    }
    for (let f = 0; f < frames; f++) {
      const row = f * nBins;
      for (let m = 0; m < nMels; m++) {
        const w = this.#weights[m];
        const first = row + this.#first[m];
        let s = 0;
        for (let j = 0; j < w.length; j++) s += w[j] * power[first + j];
        mel[f * nMels + m] = s;
      }
    }
    return { frames, power, mel };
  }
}

/** Both distances of one output against its reference, in dB, and the lag that aligned them. */
export interface WaveformDistance {
  /** mel-LSD with the relative floor (dB). */
  melLsd: number;
  /** LSD over the linear bins with the relative floor (dB). */
  lsd: number;
  /** Samples the output was shifted by: output[t + lag] is compared with reference[t]. */
  lag: number;
}

function peak(values: Float64Array): number {
  let p = 0;
  for (const v of values) if (v > p) p = v;
  return p;
}

function floored(values: Float64Array, floor: number): Float64Array {
  return values.map((v) => Math.max(v, floor));
}

/** `signal` shifted left by `lag` samples (output[t + lag] → t), zero-filled, cut to `length`. */
function shifted(signal: ArrayLike<number>, lag: number, length: number): Float64Array {
  const out = new Float64Array(length);
  for (let t = 0; t < length; t++) {
    const i = t + lag;
    if (i >= 0 && i < signal.length) out[t] = signal[i];
  }
  return out;
}

/**
 * mel-LSD and LSD between a reference signal and a system's output, through the waveform
 * (TARGETS.md): both analysed by {@link ReferenceAnalyser}, the output aligned by the lag in
 * ±`maxLag` that minimises the mel distance (searched coarse to fine: steps of 128, 16, 2, 1
 * around the best so far, all but the last stage on every 4th frame only), the floor P = max(power, `relativeFloor` × the reference's peak
 * power) taken separately for the mel and the linear spectra.
 */
export function waveformDistance(
  reference: ArrayLike<number>,
  output: ArrayLike<number>,
  opts: { analyser?: ReferenceAnalyser; maxLag?: number; relativeFloor?: number } = {},
): WaveformDistance {
  const analyser = opts.analyser ?? new ReferenceAnalyser();
  const maxLag = opts.maxLag ?? MAX_LAG;
  const relFloor = opts.relativeFloor ?? RELATIVE_FLOOR;
  const n = reference.length;
  if (n === 0) throw new Error("waveformDistance: the reference signal is empty");
  const ref = analyser.spectra(reference);
  const nMels = analyser.config.nMels;
  const melFloor = relFloor * peak(ref.mel);
  const powFloor = relFloor * peak(ref.power);
  if (!(melFloor > 0)) throw new Error("waveformDistance: the reference signal is silent");
  const refMel = floored(ref.mel, melFloor);
  const COARSE = 4;
  const refMelCoarse = floored(analyser.spectra(reference, COARSE).mel, melFloor);
  const caches = new Map<number, Map<number, number>>();
  /** mel distance at `lag`, over every `frameStep`-th frame. */
  const melAt = (lag: number, frameStep: number): number => {
    let cache = caches.get(frameStep);
    if (!cache) caches.set(frameStep, cache = new Map());
    let d = cache.get(lag);
    if (d === undefined) {
      const est = analyser.spectra(shifted(output, lag, n), frameStep);
      const r = frameStep === 1 ? refMel : refMelCoarse;
      d = logSpectralDistance(r, floored(est.mel, melFloor), nMels, 0);
      cache.set(lag, d);
    }
    return d;
  };
  let best = 0;
  const stages = [[128, maxLag, COARSE], [16, 128, COARSE], [2, 16, COARSE], [1, 2, 1]];
  for (const [step, span, frameStep] of stages) {
    const centre = best;
    for (let lag = centre - span; lag <= centre + span; lag += step) {
      if (Math.abs(lag) > maxLag) continue;
      const d = melAt(lag, frameStep), b = melAt(best, frameStep);
      if (d < b || (d === b && Math.abs(lag) < Math.abs(best))) best = lag;
    }
  }
  const est = analyser.spectra(shifted(output, best, n));
  return {
    melLsd: melAt(best, 1),
    lsd: logSpectralDistance(
      floored(ref.power, powFloor),
      floored(est.power, powFloor),
      analyser.nBins,
      0,
    ),
    lag: best,
  };
}
