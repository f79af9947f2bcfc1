/**
 * Log-mel features on the GPU: power spectrogram |STFT|² (one fused framing + FFT + square
 * kernel, `ag.stftPower`) → mel filterbank (a banded sparse product, `ag.bandedMatmul`: each
 * band spans a few bins) → log(P + floor). Batched over clips; differentiable. Portable (no
 * Deno APIs).
 * @module
 */
import * as ag from "../engine/mod.ts";
import { DEFAULT_CHUNK_FRAMES, streamLogMel } from "./log_mel_stream.ts";
import { melFilterbank } from "./mel.ts";
import { concatSamples } from "./samples.ts";

/** Everything that defines a feature; stored in caches and checkpoints so stale ones are refused. */
export interface FeatureConfig {
  sampleRate: number;
  nFft: number;
  hop: number;
  nMels: number;
  fMin: number;
  fMax: number;
  htk: boolean;
  norm: "slaney" | null;
  /** Added to mel power before the natural log, so silence stays finite. */
  logFloor: number;
}

/**
 * The model's default features: 16 kHz, n_fft 1024, hop 256, 80 mel bands 0–8 kHz on the HTK mel
 * scale with triangles of peak 1, log(power + 1e-5) — the analysis design/TARGETS.md defines its
 * distances on, so the model's own features are the reference ones. (Slaney area-normalised bands
 * weigh 1e-3–1e-2: with the same 1e-5 floor they put it 20–30 dB higher, where it hid quiet bands
 * and pauses; Griffin-Lim on true features measured 2.90 dB mel-LSD through the waveform on the
 * held-out CV mini clips with Slaney bands, 2.51 dB with these.)
 */
export const DEFAULT_FEATURES: Readonly<FeatureConfig> = Object.freeze({
  sampleRate: 16000,
  nFft: 1024,
  hop: 256,
  nMels: 80,
  fMin: 0,
  fMax: 8000,
  htk: true,
  norm: null,
  logFloor: 1e-5,
});

/** Whether two feature configs are the same (every field). */
export function sameFeatures(a: FeatureConfig, b: FeatureConfig): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof FeatureConfig>;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

/** Largest FFT the engine's kernel takes (engine/ops/fft.ts's MAX_FFT_SIZE). */
const MAX_N_FFT = 4096;

/**
 * What is wrong with a feature config: its first bad field (null when the config itself is not
 * an object) and the problem, or null when it can be used. `sampleRate` a positive integer,
 * `nFft` a power of two the FFT kernel takes, `hop` from 1 to nFft/2 (Hann windows that overlap
 * by half or more, which the inverse STFT of the vocoder needs), 0 ≤ `fMin` < `fMax` ≤ the
 * Nyquist frequency, `nMels` a whole number whose every band catches at least one FFT bin (an
 * empty band makes the filterbank's pseudo-inverse singular), `htk` a boolean, `norm` "slaney"
 * or null, `logFloor` > 0. Checked where configs are read (vae/config.ts), before any work.
 */
export function featureConfigProblem(
  c: unknown,
): { field: string | null; problem: string } | null {
  if (!c || typeof c !== "object" || Array.isArray(c)) {
    return { field: null, problem: `must be an object, got ${JSON.stringify(c) ?? "nothing"}` };
  }
  const f = c as Record<string, unknown>;
  const show = (k: string) => JSON.stringify(f[k]) ?? "nothing";
  const bad = (field: string, problem: string) => ({
    field,
    problem: `${problem}, got ${show(field)}`,
  });
  const isInt = (k: string) => typeof f[k] === "number" && Number.isInteger(f[k]);
  const isNum = (k: string) => typeof f[k] === "number" && Number.isFinite(f[k]);
  for (const k of Object.keys(DEFAULT_FEATURES)) if (!(k in f)) return bad(k, "missing");
  if (!isInt("sampleRate") || (f.sampleRate as number) <= 0) {
    return bad("sampleRate", "must be a positive integer (Hz)");
  }
  const nFft = f.nFft as number;
  if (!isInt("nFft") || nFft < 2 || nFft > MAX_N_FFT || (nFft & (nFft - 1)) !== 0) {
    return bad("nFft", `must be a power of two from 2 to ${MAX_N_FFT}`);
  }
  if (!isInt("hop") || (f.hop as number) < 1 || (f.hop as number) > nFft / 2) {
    return bad("hop", `must be a whole number of samples from 1 to nFft/2 = ${nFft / 2}`);
  }
  const nyquist = (f.sampleRate as number) / 2;
  if (!isNum("fMin") || (f.fMin as number) < 0) return bad("fMin", "must be a frequency >= 0 Hz");
  if (!isNum("fMax") || (f.fMax as number) > nyquist || (f.fMax as number) <= (f.fMin as number)) {
    return bad(
      "fMax",
      `must be above fMin (${f.fMin} Hz) and at most the Nyquist frequency sampleRate/2 = ` +
        `${nyquist} Hz`,
    );
  }
  if (typeof f.htk !== "boolean") return bad("htk", "must be true or false");
  if (f.norm !== null && f.norm !== "slaney") return bad("norm", `must be "slaney" or null`);
  if (!isNum("logFloor") || (f.logFloor as number) <= 0) {
    return bad("logFloor", "must be a finite number > 0");
  }
  const nBins = nFft / 2 + 1;
  if (!isInt("nMels") || (f.nMels as number) < 1 || (f.nMels as number) > nBins) {
    return bad("nMels", `must be a whole number from 1 to nFft/2 + 1 = ${nBins} (the FFT bins)`);
  }
  const cfg = f as unknown as FeatureConfig;
  const fb = melFilterbank({ ...cfg });
  for (let m = 0; m < cfg.nMels; m++) {
    if (!fb.subarray(m * nBins, (m + 1) * nBins).some((w) => w > 0)) {
      return {
        field: "nMels",
        problem: `${cfg.nMels} bands between ${cfg.fMin} and ${cfg.fMax} Hz are too narrow for ` +
          `nFft ${nFft} at ${cfg.sampleRate} Hz: band ${m} catches no FFT bin (use fewer mel ` +
          "bands or a larger nFft)",
      };
    }
  }
  return null;
}

/** Number of frames a centred STFT gives for `samples` samples. */
export function frameCount(samples: number, cfg: FeatureConfig = DEFAULT_FEATURES): number {
  return 1 + Math.floor(samples / cfg.hop);
}

/** A reusable log-mel extractor; holds the filterbank on the GPU. Call `dispose()` when done. */
export class LogMel {
  readonly config: FeatureConfig;
  /** The mel filterbank [nMels, nFft/2 + 1] (librosa's layout): mel power = power · Aᵀ. */
  readonly filterbank: ag.BandedMatrix;

  constructor(config: Partial<FeatureConfig> = {}) {
    this.config = { ...DEFAULT_FEATURES, ...config };
    const { sampleRate, nFft, nMels, fMin, fMax, htk, norm } = this.config;
    const fb = melFilterbank({ sampleRate, nFft, nMels, fMin, fMax, htk, norm });
    this.filterbank = ag.BandedMatrix.fromDense(fb, nMels, nFft / 2 + 1);
  }

  /**
   * Mel power [B, frames, nMels] of signals [B, T] (differentiable). With `center` (default) each
   * signal is reflect-padded by nFft/2 on both sides first; pass `center: false` for signals
   * already padded that way (see {@link centerPad}), e.g. clips of several lengths in one batch.
   */
  melPower(signals: ag.Tensor, center = true): ag.Tensor {
    const { nFft, hop } = this.config;
    const power = ag.stftPower(signals, { nFft, hop, window: "hann", center });
    return ag.bandedMatmul(power, this.filterbank);
  }

  /** Log-mel features [B, frames, nMels] (time-major, as stored in the feature cache). */
  logMelFrames(signals: ag.Tensor, center = true): ag.Tensor {
    return this.melPower(signals, center).add(this.config.logFloor).log();
  }

  /** Log-mel features [B, nMels, frames] of signals [B, T] (channels-first, for conv1d). */
  forward(signals: ag.Tensor, center = true): ag.Tensor {
    return this.logMelFrames(signals, center).transpose(1, 2);
  }

  /** Frees the filterbank. */
  dispose(): void {
    this.filterbank.dispose();
  }
}

/**
 * Fewest samples a centred STFT of `nFft` can frame: reflect padding by nFft/2 needs more than
 * nFft/2 samples. Shorter clips are refused by name where they are loaded (`loadAudio`'s
 * `minSamples`), not deep in the STFT.
 */
export function minCenteredSamples(nFft: number): number {
  return Math.floor(nFft / 2) + 1;
}

/**
 * Reflect-pads a signal by nFft/2 on both sides, as a centred STFT does. Clips padded this way
 * and then zero-padded to a common length give, in their first `frameCount(length)` frames,
 * exactly the features each would give alone.
 */
export function centerPad(signal: Float32Array, nFft: number): Float32Array {
  const p = nFft / 2;
  const n = signal.length;
  if (n < minCenteredSamples(nFft)) {
    throw new Error(`centerPad: ${n} samples are too few to reflect-pad by ${p}`);
  }
  const out = new Float32Array(n + 2 * p);
  out.set(signal, p);
  for (let i = 0; i < p; i++) {
    out[p - 1 - i] = signal[i + 1];
    out[p + n + i] = signal[n - 2 - i];
  }
  return out;
}

/**
 * Log-mel features [frames, nMels] (row-major) of several signals of different lengths, in one
 * GPU batch: each is {@link centerPad}ded, zero-padded to the longest, and only its own
 * `frameCount(length)` frames are kept, which are exactly what it would give alone. A signal
 * longer than a chunk (audio/log_mel_stream.ts) is analysed alone in chunks, with the same
 * frames. Every signal needs more than nFft/2 samples.
 */
export async function logMelBatch(
  logMel: LogMel,
  signals: Float32Array[],
): Promise<Float32Array[]> {
  if (signals.length === 0) return [];
  const { nFft, nMels, hop } = logMel.config;
  // A signal longer than a chunk of frames is analysed alone, a chunk at a time (the same
  // frames), so that no clip's length meets the GPU's buffer limits.
  const long = (s: Float32Array) => s.length > DEFAULT_CHUNK_FRAMES * hop;
  if (signals.some(long)) {
    const short = signals.filter((s) => !long(s));
    const shortMels = await logMelBatch(logMel, short);
    const out: Float32Array[] = [];
    for (const s of signals) {
      out.push(
        long(s)
          ? concatSamples(await Array.fromAsync(streamLogMel(logMel, [s])))
          : shortMels.shift()!,
      );
    }
    return out;
  }
  const padded = signals.map((s) => centerPad(s, nFft));
  const length = Math.max(...padded.map((p) => p.length));
  const batch = new Float32Array(signals.length * length);
  padded.forEach((p, i) => batch.set(p, i * length));
  const { values, frames } = await ag.tidy(async () => {
    const mel = logMel.logMelFrames(ag.tensor(batch, [signals.length, length]), false);
    return { values: await mel.toArray(), frames: mel.shape[1] };
  });
  return signals.map((s, i) => {
    const start = i * frames * nMels;
    return values.slice(start, start + frameCount(s.length, logMel.config) * nMels);
  });
}
