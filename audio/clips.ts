/**
 * Turns checked Common Voice rows into audio, one clip at a time, at one sample rate. A clip
 * that fails to decode is recorded in the caller's skip list and the stream goes on: a run
 * never dies on one broken file.
 * @module
 */

import type { ClipRow, SkippedItem } from "./commonvoice.ts";
import { checkMinLength, decodeAudioFile } from "./decode.ts";
import { AudioDecodeError, type AudioDecodeWarning, printAudioWarning } from "./errors.ts";
import { resample } from "./resample.ts";

/** Options for {@linkcode decodeClips}. */
export interface DecodeClipsOptions {
  /** Resample every clip to this rate (Hz), default 16000. */
  sampleRate?: number;
  /** Where to record clips that fail to decode (appended to). */
  skipped?: SkippedItem[];
  /** Skip (and record) clips shorter than this many samples at `sampleRate`. */
  minSamples?: number;
  /** Called for each warning of a clip decoded with repairs; default: print on stderr. */
  onWarning?: (warning: AudioDecodeWarning) => void;
}

/** One decoded clip. */
export interface ClipAudio {
  /** The row it came from. */
  clip: ClipRow;
  /** Mono samples at `sampleRate`. */
  samples: Float32Array;
  /** The rate of `samples` (the requested one). */
  sampleRate: number;
  /** The file's own rate before resampling. */
  sourceSampleRate: number;
}

/**
 * Decode and resample clips in order, skipping (and recording) the ones that are broken.
 * Errors other than {@linkcode AudioDecodeError} or a vanished file (e.g. permission
 * denied) still throw: those are problems with the run, not with one clip.
 *
 * @example
 * ```ts
 * import { readCommonVoiceSplit, formatSkipSummary } from "./commonvoice.ts";
 * import { decodeClips } from "./clips.ts";
 * const { clips, skipped } = await readCommonVoiceSplit("audio/sample/en", "dev");
 * for await (const { clip, samples } of decodeClips(clips, { skipped })) {
 *   console.log(clip.path, samples.length / 16000);
 * }
 * console.log(formatSkipSummary(skipped));
 * ```
 */
export async function* decodeClips(
  clips: Iterable<ClipRow>,
  options: DecodeClipsOptions = {},
): AsyncGenerator<ClipAudio> {
  const sampleRate = options.sampleRate ?? 16000;
  for (const clip of clips) {
    let decoded, samples;
    try {
      decoded = await decodeAudioFile(clip.audioPath);
      decoded.warnings.forEach(options.onWarning ?? printAudioWarning);
      samples = resample(decoded.samples, decoded.sampleRate, sampleRate);
      if (options.minSamples !== undefined) {
        checkMinLength(samples, sampleRate, options.minSamples, clip.audioPath, decoded.format);
      }
    } catch (err) {
      let reason: string;
      if (err instanceof AudioDecodeError) reason = err.summary;
      else if (err instanceof Deno.errors.NotFound) reason = "missing file";
      else throw err;
      options.skipped?.push({ name: clip.path, reason, kind: "invalid" });
      continue;
    }
    yield { clip, samples, sampleRate, sourceSampleRate: decoded.sampleRate };
  }
}
