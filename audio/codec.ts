/**
 * What every decoder (WAV, MP3, FLAC, Ogg Vorbis, Ogg Opus) hands back, and the one policy on
 * damage they share: a file that lost most of its audio (junk, failed checksums, frames the
 * library could not decode) is broken (an {@linkcode AudioDecodeError}); one that lost less
 * decodes with one warning naming the file and the counts; non-finite samples are set to zero
 * with a warning (the rest of the clip is good audio; NaN would silence every STFT frame it
 * touches), unless most samples are non-finite. Channels are averaged to mono here.
 * @module
 */

import { AudioDecodeError, type AudioDecodeWarning, type AudioFormat } from "./errors.ts";
import { toMono } from "./wav.ts";

/** Share of a file's audio that may be lost before the file counts as broken ("mostly"). */
export const MAX_LOST_FRACTION = 0.5;

/** Options every decoder takes. */
export interface DecodeOptions {
  /** Decode what is whole in a truncated file instead of throwing (default false). */
  allowTruncated?: boolean;
}

/** Mono audio decoded from a file, at the file's own rate. */
export interface DecodedAudio {
  /** The format the bytes were read as. */
  format: AudioFormat;
  /** Samples per second (never assumed: resample with `resample.ts`). */
  sampleRate: number;
  /** Mono samples, nominally in [-1, 1] (multi-channel input is averaged). */
  samples: Float32Array;
  /** Channels in the file before downmixing. */
  channelCount: number;
  /** True when the file ended early and `allowTruncated` let what was whole through. */
  truncated: boolean;
  /** What was skipped or repaired in a file that is still usable (empty when nothing). */
  warnings: AudioDecodeWarning[];
}

/** How much of a file a decoder could not turn into audio. */
export interface DamageReport {
  /** Share of the audio lost, 0–1 (bytes skipped as damaged, or samples missing). */
  lostFraction: number;
  /** Damaged regions (junk, pages or frames failing their checksum) the scan skipped. */
  damagedRegions: number;
  /** Errors the decoding library reported on what was left. */
  decoderErrors: number;
}

/** No damage. */
export const UNDAMAGED: DamageReport = { lostFraction: 0, damagedRegions: 0, decoderErrors: 0 };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const percent = (f: number) => `${f < 0.01 && f > 0 ? "<1" : Math.round(f * 100)}%`;

/**
 * Refuses a truncated file (`truncation` says why it looks cut) unless `allowTruncated`: a clip
 * cut mid-way no longer matches its transcript or its listed duration.
 * @throws {AudioDecodeError} with `truncation` as the reason
 */
export function refuseTruncated(
  file: string,
  format: AudioFormat,
  truncation: string | undefined,
  options: DecodeOptions,
): void {
  if (truncation && !options.allowTruncated) {
    throw new AudioDecodeError(file, truncation, { format });
  }
}

/**
 * The damage policy alone: a warning naming the file and the counts when something was lost,
 * `undefined` when nothing was.
 * @throws {AudioDecodeError} "mostly undecodable: …" when more than
 *   {@linkcode MAX_LOST_FRACTION} of the audio was lost
 */
export function judgeDamage(
  file: string,
  format: AudioFormat,
  damage: DamageReport,
): AudioDecodeWarning | undefined {
  const { lostFraction, damagedRegions, decoderErrors } = damage;
  const counts = `${plural(damagedRegions, "damaged region")} skipped, ` +
    `${plural(decoderErrors, "decoder error")}`;
  if (lostFraction > MAX_LOST_FRACTION) {
    throw new AudioDecodeError(
      file,
      `mostly undecodable: ${percent(lostFraction)} of the audio lost (${counts})`,
      { format },
    );
  }
  if (damagedRegions > 0 || decoderErrors > 0 || lostFraction > 0) {
    return { file, format, message: `${counts}; ${percent(lostFraction)} of the audio lost` };
  }
  return undefined;
}

/**
 * Checks a decoder's raw output against the shared policy and returns the mono result.
 *
 * @param channels one array per channel, equal lengths
 * @param damage what the decoder's scan and library lost; mostly lost → broken
 * @throws {AudioDecodeError} when the file holds no samples, lost more than
 *   {@linkcode MAX_LOST_FRACTION} of its audio, or is mostly non-finite
 *
 * @example
 * ```ts
 * import { finishDecode, UNDAMAGED } from "./codec.ts";
 * const x = new Float32Array([0.1, NaN, 0.2, 0.3]);
 * const a = finishDecode("a.wav", "wav", [x], 16000, UNDAMAGED);
 * console.log(a.samples[1], a.warnings.length); // 0 1
 * ```
 */
export function finishDecode(
  file: string,
  format: AudioFormat,
  channels: Float32Array[],
  sampleRate: number,
  damage: DamageReport,
  truncated = false,
): DecodedAudio {
  const warnings: AudioDecodeWarning[] = [];
  const damageWarning = judgeDamage(file, format, damage);
  if (damageWarning) warnings.push(damageWarning);
  if (channels.length === 0 || channels[0].length === 0) {
    throw new AudioDecodeError(file, "no audio: the file holds 0 samples", { format });
  }
  const samples = toMono(channels);
  const nonFinite = new NonFiniteRepair();
  nonFinite.repair(samples);
  const warning = nonFinite.judge(file, format, sampleRate);
  if (warning) warnings.push(warning);
  return { format, sampleRate, samples, channelCount: channels.length, truncated, warnings };
}

/**
 * The non-finite part of the policy, for samples that come in blocks (a long file read in
 * pieces) as well as all at once: `repair` sets NaN and ±Inf to 0 and counts them, `judge`
 * gives the warning, or refuses a file whose samples are mostly non-finite.
 */
export class NonFiniteRepair {
  /** Samples seen. */
  total = 0;
  /** Non-finite samples among them. */
  bad = 0;
  /** Index of the first non-finite sample (-1: none). */
  first = -1;

  /** Sets the non-finite samples of the next block to 0, counting them. */
  repair(block: Float32Array): void {
    for (let i = 0; i < block.length; i++) {
      if (!Number.isFinite(block[i])) {
        if (this.first < 0) this.first = this.total + i;
        this.bad++;
        block[i] = 0;
      }
    }
    this.total += block.length;
  }

  /**
   * The warning for what was repaired (undefined when nothing was).
   * @throws {AudioDecodeError} "mostly non-finite: …" when more than
   *   {@linkcode MAX_LOST_FRACTION} of the samples were non-finite
   */
  judge(file: string, format: AudioFormat, sampleRate: number): AudioDecodeWarning | undefined {
    if (this.bad === 0) return undefined;
    const where = `first at sample ${this.first} (${(this.first / sampleRate).toFixed(3)} s)`;
    if (this.bad / this.total > MAX_LOST_FRACTION) {
      throw new AudioDecodeError(
        file,
        `mostly non-finite: ${this.bad} of ${this.total} samples are NaN or ±Inf, ${where}`,
        { format },
      );
    }
    return {
      file,
      format,
      message: `${plural(this.bad, "non-finite sample")} (NaN or ±Inf) set to 0, ${where}`,
    };
  }
}
