/**
 * Mel scale and triangular mel filterbank, built in float64 on the CPU once per configuration.
 * Matches librosa's `librosa.filters.mel` defaults (Slaney mel scale, Slaney area
 * normalisation); `htk: true` gives the HTK scale, and `norm: null` unit-peak triangles.
 * Pure and portable (no Deno APIs).
 * @module
 */

/** Filterbank options (librosa's names). */
export interface MelOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fMin?: number;
  /** Upper edge in Hz (default sampleRate / 2). */
  fMax?: number;
  /** HTK mel scale instead of Slaney's (default false, like librosa). */
  htk?: boolean;
  /** "slaney" divides each triangle by its width in Hz/2 (librosa's default); null keeps peaks at 1. */
  norm?: "slaney" | null;
}

const F_SP = 200 / 3; // Slaney: 66.67 Hz per mel below 1 kHz
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

/** Hz → mel. */
export function hzToMel(hz: number, htk = false): number {
  if (htk) return 2595 * Math.log10(1 + hz / 700);
  return hz < MIN_LOG_HZ ? hz / F_SP : MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP;
}

/** mel → Hz. */
export function melToHz(mel: number, htk = false): number {
  if (htk) return 700 * (10 ** (mel / 2595) - 1);
  return mel < MIN_LOG_MEL ? mel * F_SP : MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL));
}

/**
 * The filterbank as a row-major [nMels, nFft/2 + 1] Float64Array: row m holds the weights that
 * turn a power spectrum into mel band m.
 */
export function melFilterbank(opts: MelOptions): Float64Array {
  const { sampleRate, nFft, nMels } = opts;
  const fMin = opts.fMin ?? 0;
  const fMax = opts.fMax ?? sampleRate / 2;
  const htk = opts.htk ?? false;
  const norm = opts.norm === undefined ? "slaney" : opts.norm;
  if (!(fMax > fMin) || fMax > sampleRate / 2 + 1e-9) {
    throw new Error(`mel filterbank: need 0 <= fMin < fMax <= sampleRate/2, got ${fMin}..${fMax}`);
  }
  const nBins = Math.floor(nFft / 2) + 1;
  const fftFreqs = Array.from({ length: nBins }, (_, k) => (k * sampleRate) / nFft);
  const melMin = hzToMel(fMin, htk);
  const melMax = hzToMel(fMax, htk);
  const melF = Array.from(
    { length: nMels + 2 },
    (_, i) => melToHz(melMin + ((melMax - melMin) * i) / (nMels + 1), htk),
  );
  const weights = new Float64Array(nMels * nBins);
  for (let m = 0; m < nMels; m++) {
    const lowerWidth = melF[m + 1] - melF[m];
    const upperWidth = melF[m + 2] - melF[m + 1];
    const enorm = norm === "slaney" ? 2 / (melF[m + 2] - melF[m]) : 1;
    for (let k = 0; k < nBins; k++) {
      const lower = (fftFreqs[k] - melF[m]) / lowerWidth;
      const upper = (melF[m + 2] - fftFreqs[k]) / upperWidth;
      weights[m * nBins + k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
  }
  return weights;
}
