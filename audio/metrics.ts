/**
 * Spectral distances between a reference and a reconstruction, as small pure float64 functions
 * on the CPU, shared by tests and reports: spectral convergence, log-spectral distance (on mel
 * or linear power, as defined in design/TARGETS.md) and mel-cepstral distortion. Spectra are
 * flat row-major arrays laid out [frames, bands]. Portable (no Deno APIs).
 *
 * @example
 * ```ts
 * import { melLsd, spectralConvergence } from "./metrics.ts";
 * const ref = [1, 2, 3, 4], est = [1, 2, 3, 5];
 * console.log(spectralConvergence(ref, est)); // 1 / √30 ≈ 0.183
 * console.log(melLsd(ref, est, 2)); // frame 0: 0 dB, frame 1: ≈ 0.68 dB → mean ≈ 0.34
 * ```
 * @module
 */

/** Added to power before the log in {@link logSpectralDistance} (TARGETS.md: P = power + 1e-5). */
export const LSD_POWER_FLOOR = 1e-5;

function checkPair(what: string, ref: ArrayLike<number>, est: ArrayLike<number>): void {
  if (ref.length !== est.length) {
    throw new Error(`${what}: reference has ${ref.length} values, estimate ${est.length}`);
  }
}

/**
 * Spectral convergence ‖|S_ref| − |S_est|‖_F / ‖|S_ref|‖_F of two magnitude spectrograms of the
 * same shape (any layout; magnitudes, not power). 0 is a perfect match; 1 is as far as silence.
 */
export function spectralConvergence(refMag: ArrayLike<number>, estMag: ArrayLike<number>): number {
  checkPair("spectralConvergence", refMag, estMag);
  let num = 0, den = 0;
  for (let i = 0; i < refMag.length; i++) {
    const r = Math.abs(refMag[i]);
    num += (r - Math.abs(estMag[i])) ** 2;
    den += r * r;
  }
  if (den === 0) throw new Error("spectralConvergence: the reference spectrogram is all zero");
  return Math.sqrt(num / den);
}

/**
 * Log-spectral distance in dB between power spectrograms [frames, nBands] (flat, row-major):
 * for each frame sqrt(mean over bands of (10·log10 P_ref − 10·log10 P_est)²) with
 * P = power + `floor`, then the mean over frames. {@link melLsd} and {@link lsd} are this on
 * mel power and on the linear power spectrum.
 */
export function logSpectralDistance(
  refPower: ArrayLike<number>,
  estPower: ArrayLike<number>,
  nBands: number,
  floor = LSD_POWER_FLOOR,
): number {
  checkPair("logSpectralDistance", refPower, estPower);
  if (!Number.isInteger(nBands) || nBands < 1 || refPower.length % nBands !== 0) {
    throw new Error(
      `logSpectralDistance: ${refPower.length} values are not whole frames of ${nBands} bands`,
    );
  }
  const frames = refPower.length / nBands;
  if (frames === 0) throw new Error("logSpectralDistance: no frames");
  let total = 0;
  for (let f = 0; f < frames; f++) {
    let sq = 0;
    for (let b = f * nBands; b < (f + 1) * nBands; b++) {
      const d = 10 * Math.log10(refPower[b] + floor) - 10 * Math.log10(estPower[b] + floor);
      sq += d * d;
    }
    total += Math.sqrt(sq / nBands);
  }
  return total / frames;
}

/** mel-LSD (dB) of TARGETS.md: {@link logSpectralDistance} over mel power [frames, nMels]. */
export function melLsd(
  refMelPower: ArrayLike<number>,
  estMelPower: ArrayLike<number>,
  nMels = 80,
): number {
  return logSpectralDistance(refMelPower, estMelPower, nMels);
}

/** LSD (dB) of TARGETS.md: {@link logSpectralDistance} over power spectra [frames, nBins = 513]. */
export function lsd(
  refPower: ArrayLike<number>,
  estPower: ArrayLike<number>,
  nBins = 513,
): number {
  return logSpectralDistance(refPower, estPower, nBins);
}

/**
 * Cepstral coefficients c_1..c_count of one frame of natural-log *amplitude* x_0..x_{N−1}:
 * c_k = (1/N) Σ_n x_n cos(π k (n + ½) / N), the DCT-II scaled so that x_n ≈ c_0 + 2 Σ_k c_k
 * cos(π k (n + ½) / N) — the real-cepstrum convention (SPTK's) under which the MCD formula's
 * factor 2 comes from Parseval's theorem.
 */
export function melCepstrum(logAmplitude: ArrayLike<number>, count: number): Float64Array {
  const n = logAmplitude.length;
  if (count >= n) throw new Error(`melCepstrum: ${count} coefficients from ${n} bands`);
  const c = new Float64Array(count);
  for (let k = 1; k <= count; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += logAmplitude[i] * Math.cos((Math.PI * k * (i + 0.5)) / n);
    c[k - 1] = s / n;
  }
  return c;
}

/**
 * Mel-cepstral distortion in dB between two log-mel spectrograms [frames, nMels] holding the
 * natural log of mel *power* (as {@link LogMel} gives). Each frame is halved to natural-log
 * amplitude, turned into cepstra c_1..c_`coefficients` by {@link melCepstrum} (c_0, the level,
 * is left out), and
 *
 *   MCD = (10 / ln 10) · sqrt(2 · Σ_{k=1..K} (c_k − ĉ_k)²)
 *
 * is averaged over frames. With this scaling a difference d_n = a·cos(π(n + ½)/N) in log
 * amplitude gives (10 / ln 10) · a / √2 dB. Figures are comparable between runs of this code;
 * other tools (SPTK mcep on WORLD envelopes, MFCC-based scripts) scale differently.
 */
export function melCepstralDistortion(
  refLogMel: ArrayLike<number>,
  estLogMel: ArrayLike<number>,
  nMels = 80,
  coefficients = 13,
): number {
  checkPair("melCepstralDistortion", refLogMel, estLogMel);
  if (!Number.isInteger(nMels) || nMels < 1 || refLogMel.length % nMels !== 0) {
    throw new Error(
      `melCepstralDistortion: ${refLogMel.length} values are not whole frames of ${nMels} bands`,
    );
  }
  const frames = refLogMel.length / nMels;
  if (frames === 0) throw new Error("melCepstralDistortion: no frames");
  const diff = new Float64Array(nMels);
  let total = 0;
  for (let f = 0; f < frames; f++) {
    for (let m = 0; m < nMels; m++) {
      const i = f * nMels + m;
      diff[m] = 0.5 * (refLogMel[i] - estLogMel[i]); // log power → log amplitude
    }
    // The DCT is linear: the cepstrum of the difference is the difference of the cepstra.
    const dc = melCepstrum(diff, coefficients);
    let sq = 0;
    for (const v of dc) sq += v * v;
    total += (10 / Math.LN10) * Math.sqrt(2 * sq);
  }
  return total / frames;
}
