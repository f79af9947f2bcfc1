/**
 * What makes a signal speech-like, measured plainly on the CPU (float64, fft.js) for the tests
 * of commands that write audio: level, clipping, where the energy sits in frequency, how the
 * level moves over time, and — against the input a reconstruction came from — whether its level
 * follows the input's syllables and its long-term spectrum has the input's shape.
 * @module
 */
import FFT from "fft.js";

const N_FFT = 1024;

/** Mean power spectrum (Hann frames of 1024, hop 512) of `x`: 513 bins up to rate / 2. */
export function longTermSpectrum(x: Float32Array): Float64Array {
  const fft = new FFT(N_FFT);
  const frame = new Float64Array(N_FFT), out = new Float64Array(2 * N_FFT);
  const power = new Float64Array(N_FFT / 2 + 1);
  let frames = 0;
  for (let start = 0; start + N_FFT <= x.length; start += N_FFT / 2) {
    for (let i = 0; i < N_FFT; i++) {
      frame[i] = x[start + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N_FFT));
    }
    fft.realTransform(out, frame);
    for (let k = 0; k <= N_FFT / 2; k++) power[k] += out[2 * k] ** 2 + out[2 * k + 1] ** 2;
    frames++;
  }
  return power.map((p) => p / Math.max(frames, 1));
}

/** Share of the power between `lo` and `hi` Hz. */
export function bandShare(x: Float32Array, rate: number, lo: number, hi: number): number {
  const p = longTermSpectrum(x);
  let band = 0, all = 0;
  p.forEach((v, k) => {
    const f = (k * rate) / N_FFT;
    all += v;
    if (f >= lo && f <= hi) band += v;
  });
  return band / all;
}

/** RMS level of each 20 ms frame, dBFS (a full-scale sine is 0), floored at −100. */
export function frameLevelsDb(x: Float32Array, rate: number): Float64Array {
  const n = Math.round(rate * 0.02);
  const out = new Float64Array(Math.floor(x.length / n));
  for (let f = 0; f < out.length; f++) {
    let s = 0;
    for (let i = f * n; i < (f + 1) * n; i++) s += x[i] * x[i];
    out[f] = Math.max(10 * Math.log10(s / n + 1e-30) + 3.01, -100);
  }
  return out;
}

/** Pearson correlation of two series over their common length. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) ma += a[i] / n, mb += b[i] / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Standard deviation of a series. */
export function std(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i] / a.length;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return Math.sqrt(s / a.length);
}

/** The long-term spectrum in dB over `lo`–`hi` Hz, in bins. */
export function spectrumDb(x: Float32Array, rate: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  longTermSpectrum(x).forEach((v, k) => {
    const f = (k * rate) / N_FFT;
    if (f >= lo && f <= hi) out.push(10 * Math.log10(v + 1e-20));
  });
  return out;
}

/** All the numbers at once (for messages and calibration). */
export function speechStats(x: Float32Array, rate: number, ref?: Float32Array) {
  let peak = 0, sum = 0, clipped = 0;
  for (const v of x) {
    peak = Math.max(peak, Math.abs(v));
    sum += v * v;
    if (Math.abs(v) >= 0.99) clipped++;
  }
  const levels = frameLevelsDb(x, rate);
  const loud = Math.max(...levels);
  return {
    rmsDb: 10 * Math.log10(sum / x.length) + 3.01,
    peak,
    clippedShare: clipped / x.length,
    speechBandShare: bandShare(x, rate, 80, 4000),
    levelSpreadDb: std(levels.filter((l) => l > loud - 50)),
    envelopeCorrelation: ref ? correlation(levels, frameLevelsDb(ref, rate)) : NaN,
    spectrumCorrelation: ref
      ? correlation(spectrumDb(x, rate, 80, 7000), spectrumDb(ref, rate, 80, 7000))
      : NaN,
  };
}
