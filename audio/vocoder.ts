/**
 * Audio out: log-mel → linear magnitude (the mel filterbank's pseudo-inverse, negatives clamped)
 * → fast Griffin-Lim phase retrieval with the engine's STFT/iSTFT, all on the GPU. Spectrograms
 * are time-major, [B, frames, bins], as {@link LogMel.logMelFrames} gives; complex values are
 * [..., 2] (real, imaginary) as everywhere in the engine. Portable (no Deno APIs).
 *
 * @example
 * ```ts
 * import * as ag from "../engine/mod.ts";
 * import { LogMel } from "./features.ts";
 * import { melToAudio } from "./vocoder.ts";
 * await ag.init();
 * const logMel = new LogMel();
 * const x = ag.randn([1, 16000], { seed: 1 }).mul(0.1);
 * const audio = melToAudio(logMel.logMelFrames(x), logMel.config, { length: 16000 });
 * console.log(audio.shape); // [1, 16000]
 * const samples = await audio.toArray(); // e.g. encodeWav(samples, 16000)
 * ```
 * @module
 */
import * as ag from "../engine/mod.ts";
import { DEFAULT_FEATURES, type FeatureConfig } from "./features.ts";
import { melFilterbank } from "./mel.ts";

/**
 * Tikhonov weight of {@link melPseudoInverse}, relative to the mean diagonal of M·Mᵀ: small
 * enough that M·pinv ≈ I to ~1e-6, large enough to keep the solve stable for narrow bands.
 */
export const PINV_REGULARISATION = 1e-8;

/**
 * The pseudo-inverse of the mel filterbank M [nMels, nBins] as a row-major [nBins, nMels]
 * Float64Array: pinv = Mᵀ (M Mᵀ + λI)⁻¹ with λ = {@link PINV_REGULARISATION} · mean diag(M Mᵀ),
 * solved in float64 by Cholesky. For a filterbank of full row rank (every band catches some
 * bin) this is the minimum-norm right inverse: M · pinv = I, and pinv · mel is the smallest
 * linear spectrum (in the least-squares sense) whose mel projection is `mel`.
 */
export function melPseudoInverse(config: Partial<FeatureConfig> = {}): Float64Array {
  const { sampleRate, nFft, nMels, fMin, fMax, htk, norm } = { ...DEFAULT_FEATURES, ...config };
  const fb = melFilterbank({ sampleRate, nFft, nMels, fMin, fMax, htk, norm });
  const nBins = fb.length / nMels;
  // Gram matrix G = M Mᵀ + λI (symmetric positive definite).
  const g = new Float64Array(nMels * nMels);
  for (let i = 0; i < nMels; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < nBins; k++) s += fb[i * nBins + k] * fb[j * nBins + k];
      g[i * nMels + j] = g[j * nMels + i] = s;
    }
  }
  let trace = 0;
  for (let i = 0; i < nMels; i++) trace += g[i * nMels + i];
  const lambda = (PINV_REGULARISATION * trace) / nMels;
  for (let i = 0; i < nMels; i++) g[i * nMels + i] += lambda;
  // Cholesky G = L Lᵀ, in place in the lower triangle.
  for (let j = 0; j < nMels; j++) {
    let d = g[j * nMels + j];
    for (let k = 0; k < j; k++) d -= g[j * nMels + k] ** 2;
    if (!(d > 0)) {
      throw new Error(`melPseudoInverse: filterbank Gram matrix is singular at band ${j}`);
    }
    const ljj = Math.sqrt(d);
    g[j * nMels + j] = ljj;
    for (let i = j + 1; i < nMels; i++) {
      let s = g[i * nMels + j];
      for (let k = 0; k < j; k++) s -= g[i * nMels + k] * g[j * nMels + k];
      g[i * nMels + j] = s / ljj;
    }
  }
  // pinv row k = solve(G, M[:, k]): forward then back substitution per bin.
  const pinv = new Float64Array(nBins * nMels);
  const y = new Float64Array(nMels);
  for (let k = 0; k < nBins; k++) {
    for (let i = 0; i < nMels; i++) {
      let s = fb[i * nBins + k];
      for (let j = 0; j < i; j++) s -= g[i * nMels + j] * y[j];
      y[i] = s / g[i * nMels + i];
    }
    for (let i = nMels - 1; i >= 0; i--) {
      let s = y[i];
      for (let j = i + 1; j < nMels; j++) s -= g[j * nMels + i] * pinv[k * nMels + j];
      pinv[k * nMels + i] = s / g[i * nMels + i];
    }
  }
  return pinv;
}

// Pseudo-inverses by configuration, in f32 ready for upload: the solve takes ~10 ms.
const pinvCache = new Map<string, Float32Array>();

function pinvFor(config: FeatureConfig): Float32Array {
  const { sampleRate, nFft, nMels, fMin, fMax, htk, norm } = config;
  const key = JSON.stringify([sampleRate, nFft, nMels, fMin, fMax, htk, norm]);
  let p = pinvCache.get(key);
  if (!p) {
    p = Float32Array.from(melPseudoInverse(config));
    pinvCache.set(key, p);
  }
  return p;
}

/**
 * Linear STFT magnitude [B, frames, nFft/2 + 1] from log-mel features [B, frames, nMels] (the
 * time-major layout of {@link LogMel.logMelFrames}; transpose a channels-first decoder output
 * [B, nMels, frames] with `.transpose(1, 2)` first): mel power = max(exp(logMel) − logFloor, 0),
 * linear power = max(mel power · pinvᵀ, 0) with {@link melPseudoInverse}, magnitude = √power.
 * Not differentiable through the clamps at zero; meant for inference.
 */
export function melToLinear(logMel: ag.Tensor, config: Partial<FeatureConfig> = {}): ag.Tensor {
  const cfg = { ...DEFAULT_FEATURES, ...config };
  const nBins = cfg.nFft / 2 + 1;
  if (logMel.ndim !== 3 || logMel.shape[2] !== cfg.nMels) {
    throw new Error(
      `melToLinear: log-mel [${logMel.shape}] is not [batch, frames, ${cfg.nMels}] ` +
        `(transpose a [batch, nMels, frames] input with .transpose(1, 2))`,
    );
  }
  return ag.tidy(() => {
    const pinvT = ag.tensor(pinvFor(cfg), [nBins, cfg.nMels]).transpose(0, 1); // [nMels, nBins]
    const melPower = logMel.exp().sub(cfg.logFloor).relu();
    return melPower.matmul(pinvT).relu().sqrt();
  });
}

/** Options of {@link griffinLim}. */
export interface GriffinLimOptions {
  /** FFT size of the STFT the magnitude came from. */
  nFft: number;
  /** Hop of that STFT, in samples. */
  hop: number;
  /** Projections onto consistent spectrograms (default 32). */
  iterations?: number;
  /**
   * Fast Griffin-Lim momentum α (Perraudin, Balazs & Søndergaard 2013), default 0.99;
   * 0 gives plain Griffin-Lim.
   */
  momentum?: number;
  /** Samples per output signal (default (frames − 1) · hop, what a centred STFT covers). */
  length?: number;
  /** Initial phase: uniformly random (default) or zero. */
  init?: "random" | "zero";
  /** Seed of the random initial phase (default 0). */
  seed?: number;
  /**
   * Unit phases [B, k, nFft/2 + 1, 2] for the first k frames, replacing `init` there: e.g. the
   * phase of audio already written for them, so that the result continues that audio.
   */
  initialPhase?: ag.Tensor;
}

/** |z| of complex values [..., 2], floored so that z / |z| stays finite where z = 0. */
function complexAbs(z: ag.Tensor): ag.Tensor {
  return z.square().sum(-1, true).add(1e-16).sqrt();
}

/**
 * Fast Griffin-Lim: a signal [B, length] whose centred periodic-Hann STFT has magnitude close to
 * `magnitude` [B, frames, nFft/2 + 1]. With unit phases u₀ (random or 1), each iteration takes
 * X_n = stft(istft(S · u_{n−1})), the nearest consistent spectrogram, then
 * t_n = X_n + α (X_n − X_{n−1}) and u_n = t_n / |t_n|; the result is istft(S · u_N). Runs on the
 * GPU under `noGrad`, each iteration in its own `tidy`, so memory stays flat however many
 * iterations are asked for.
 *
 * @example
 * ```ts
 * import * as ag from "../engine/mod.ts";
 * import { griffinLim } from "./vocoder.ts";
 * await ag.init();
 * const x = ag.randn([1, 8000], { seed: 1 });
 * const mag = ag.stft(x, { nFft: 512, hop: 128 }).square().sum(-1).sqrt();
 * const y = griffinLim(mag, { nFft: 512, hop: 128, length: 8000 });
 * console.log(y.shape); // [1, 8000]
 * ```
 */
export function griffinLim(magnitude: ag.Tensor, opts: GriffinLimOptions): ag.Tensor {
  const { nFft, hop, iterations = 32, momentum = 0.99, init = "random", seed = 0 } = opts;
  const nBins = nFft / 2 + 1;
  if (magnitude.ndim !== 3 || magnitude.shape[2] !== nBins) {
    throw new Error(`griffinLim: magnitude [${magnitude.shape}] is not [batch, frames, ${nBins}]`);
  }
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new Error(`griffinLim: iterations ${iterations} must be a non-negative integer`);
  }
  const [batch, frames] = magnitude.shape;
  const length = opts.length ?? (frames - 1) * hop;
  // A centred STFT of `length` samples has 1 + ⌊length / hop⌋ frames: they must line up.
  if (!Number.isInteger(length) || 1 + Math.floor(length / hop) !== frames) {
    throw new Error(
      `griffinLim: ${length} samples give ${1 + Math.floor(length / hop)} frames, not ${frames}; ` +
        `pass a length from ${(frames - 1) * hop} to ${frames * hop - 1}`,
    );
  }
  const stftOpts = { nFft, hop, window: "hann" as const, center: true };
  return ag.noGrad(() => {
    const mag = magnitude.reshape([batch, frames, nBins, 1]).keep();
    // A normalised 2-D Gaussian has a uniformly distributed angle.
    let phase = ag.tidy(() => {
      let p: ag.Tensor;
      if (init === "zero") p = ag.tensor([1, 0], [2]).expand([batch, frames, nBins, 2]).clone();
      else {
        const z = ag.randn([batch, frames, nBins, 2], { seed });
        p = z.div(complexAbs(z));
      }
      const given = opts.initialPhase;
      if (!given) return p;
      const k = Math.min(given.shape[1], frames);
      if (given.ndim !== 4 || given.shape[0] !== batch || given.shape[2] !== nBins) {
        throw new Error(
          `griffinLim: initialPhase [${given.shape}] is not [${batch}, k, ${nBins}, 2]`,
        );
      }
      return k === frames
        ? given.slice(1, 0, k).clone()
        : ag.concat([given.slice(1, 0, k), p.slice(1, k, frames)], 1);
    }).keep();
    let previous: ag.Tensor | null = null;
    try {
      for (let i = 0; i < iterations; i++) {
        const [nextPhase, rebuilt] = ag.tidy(() => {
          const signal = ag.istft(mag.mul(phase), { ...stftOpts, length });
          const x = ag.stft(signal, stftOpts);
          const t = previous && momentum !== 0 ? x.add(x.sub(previous).mul(momentum)) : x;
          return [t.div(complexAbs(t)), x];
        });
        phase.dispose();
        previous?.dispose();
        phase = nextPhase.keep();
        previous = rebuilt.keep();
      }
      return ag.tidy(() => ag.istft(mag.mul(phase), { ...stftOpts, length }));
    } finally {
      mag.dispose();
      phase.dispose();
      previous?.dispose();
    }
  });
}

/** Options of {@link melToAudio}: those of {@link griffinLim} less the STFT, which the config gives. */
export type MelToAudioOptions = Omit<GriffinLimOptions, "nFft" | "hop">;

/**
 * Log-mel features [B, frames, nMels] → audio [B, length]: {@link melToLinear}, then
 * {@link griffinLim} with the config's STFT. Encode the result with `encodeWav`.
 */
export function melToAudio(
  logMel: ag.Tensor,
  config: Partial<FeatureConfig> = {},
  opts: MelToAudioOptions = {},
): ag.Tensor {
  const cfg = { ...DEFAULT_FEATURES, ...config };
  return ag.tidy(() =>
    griffinLim(melToLinear(logMel, cfg), { ...opts, nFft: cfg.nFft, hop: cfg.hop })
  );
}

/** What a {@link MelVocoder} is told about the chunk it synthesizes. */
export interface SynthesisContext {
  /**
   * Audio [B, L] already written for this chunk's first frames (frame f centred on its sample
   * f·hop): the chunk overlaps the previous one and should continue it. A vocoder may use it
   * (Griffin-Lim starts from its phase) or ignore it.
   */
  leadingAudio?: ag.Tensor;
  /** Which chunk of a stream this is (0 for a whole signal): e.g. to vary a random start. */
  chunkIndex?: number;
}

/**
 * Log-mel frames → audio, the interface generate and listen speak through: Griffin-Lim
 * ({@link GriffinLimVocoder}) or a trained neural vocoder. Long signals go through it in
 * overlapping chunks (audio/vocoder_stream.ts), so an implementation only ever sees a chunk.
 */
export interface MelVocoder {
  /** The features it inverts: its output is at their sample rate, frame f at sample f·hop. */
  readonly features: FeatureConfig;
  /**
   * Audio [B, (frames − 1)·hop] of log-mel frames [B, frames, nMels] (time-major, as
   * {@link LogMel.logMelFrames} gives).
   */
  synthesize(logMelFrames: ag.Tensor, context?: SynthesisContext): ag.Tensor;
}

/**
 * {@link MelVocoder} by {@link melToAudio}: pseudo-inverse of the filterbank, then fast
 * Griffin-Lim from a random phase (seed + chunk index) or, over the frames `leadingAudio`
 * covers, from that audio's phase.
 */
export class GriffinLimVocoder implements MelVocoder {
  readonly features: FeatureConfig;
  constructor(
    features: Partial<FeatureConfig> = {},
    readonly options: MelToAudioOptions = {},
  ) {
    this.features = { ...DEFAULT_FEATURES, ...features };
  }

  synthesize(logMelFrames: ag.Tensor, context: SynthesisContext = {}): ag.Tensor {
    const { nFft, hop } = this.features;
    const seed = (this.options.seed ?? 0) + (context.chunkIndex ?? 0);
    return ag.tidy(() => {
      const lead = context.leadingAudio;
      const initialPhase = lead
        ? ag.noGrad(() => {
          const x = ag.stft(lead, { nFft, hop, window: "hann", center: true });
          return x.div(complexAbs(x));
        })
        : undefined;
      return melToAudio(logMelFrames, this.features, { ...this.options, seed, initialPhase });
    });
  }
}
