/**
 * What makes a signal speech-like, measured plainly on the CPU (float64, fft.js) for the tests
 * of commands that write audio: level, clipping, where the energy sits in frequency, how the
 * level moves over time, and — against the input a reconstruction came from — whether its level
 * follows the input's syllables and its long-term spectrum has the input's shape.
 * @module
 */
import assert from "node:assert/strict";
import FFT from "fft.js";
import { decodeWav } from "../../audio/wav.ts";

const N_FFT = 1024;

/** Mean power spectrum (Hann frames of 1024, hop 512) of `x`: 513 bins up to rate / 2. */
function longTermSpectrum(x: Float32Array): Float64Array {
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
function bandShare(x: Float32Array, rate: number, lo: number, hi: number): number {
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
function frameLevelsDb(x: Float32Array, rate: number): Float64Array {
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
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
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
function std(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i] / a.length;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return Math.sqrt(s / a.length);
}

/** The long-term spectrum in dB over `lo`–`hi` Hz, in bins. */
function spectrumDb(x: Float32Array, rate: number, lo: number, hi: number): number[] {
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

/**
 * Asserts a WAV is 16 kHz mono of `samples` samples, and speech-like: a level between −40 and
 * −3 dBFS, no clipping, ≥ 85 % of its power in 80 Hz–4 kHz (speech ≥ 95 %, white noise 50 %),
 * frame levels that rise and fall (spread ≥ 3 dB over frames within 50 dB of the loudest; a
 * steady noise is near 0.2). With the `input` it reconstructs: its 20 ms level contour follows
 * the input's (correlation ≥ 0.7) and so does its long-term spectrum in dB (≥ 0.5). The tiny
 * pretrained model measures 0.95–0.98, ≥ 5.2 dB, 0.92–0.95 and 0.72–0.86; an untrained one
 * 0.50, 0.2 dB, ≈ 0 and ≈ 0.
 */
export function assertSpeechLikeWav(
  bytes: Uint8Array,
  samples: number,
  what: string,
  input?: Float32Array,
): void {
  const wav = decodeWav(bytes, what);
  assert.equal(wav.sampleRate, 16000, `${what}: rate`);
  assert.equal(wav.channels.length, 1, `${what}: channels`);
  const x = wav.channels[0];
  assert.equal(x.length, samples, `${what}: length`);
  assert.ok(x.every(Number.isFinite), `${what}: non-finite samples`);
  const s = speechStats(x, 16000, input);
  const about = `${what}: ${JSON.stringify(s)}`;
  assert.ok(s.rmsDb > -40 && s.rmsDb < -3, `${about}: level`);
  assert.ok(s.peak <= 1 && s.clippedShare < 1e-3, `${about}: clipping`);
  assert.ok(s.speechBandShare >= 0.85, `${about}: power outside the speech band`);
  assert.ok(s.levelSpreadDb >= 3, `${about}: a steady sound, not syllables`);
  if (input) {
    assert.ok(s.envelopeCorrelation >= 0.7, `${about}: level contour unlike the input's`);
    assert.ok(s.spectrumCorrelation >= 0.5, `${about}: spectrum unlike the input's`);
  }
}
