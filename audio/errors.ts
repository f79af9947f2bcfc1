/**
 * Error and warning types shared by the audio readers: one shape (file + detected format +
 * reason), so callers can skip a broken clip, count it and name it in a summary without parsing
 * messages, and so every message says which file and which decoder it is about.
 * @module
 */

/** Audio formats the decoders read, told apart by content (magic bytes), never by name. */
export type AudioFormat = "wav" | "mp3" | "flac" | "ogg-vorbis" | "ogg-opus";

/** How each format is named in messages. */
export const AUDIO_FORMAT_NAMES: Readonly<Record<AudioFormat, string>> = {
  wav: "WAV",
  mp3: "MP3",
  flac: "FLAC",
  "ogg-vorbis": "Ogg Vorbis",
  "ogg-opus": "Ogg Opus",
};

/** Options of {@linkcode AudioDecodeError}: the cause, and the format the bytes were read as. */
export interface AudioDecodeErrorOptions extends ErrorOptions {
  /** The detected format; absent when the bytes match none (or the file is empty). */
  format?: AudioFormat;
}

/**
 * A file could not be decoded as audio. `file` names the input (a path or a label the
 * caller gave), `format` the decoder its bytes were given to, and `reason` says what is wrong
 * with it, in a few words.
 *
 * @example
 * ```ts
 * import { AudioDecodeError } from "./errors.ts";
 * const err = new AudioDecodeError("a.flac", "truncated: 10 of 90 frames", { format: "flac" });
 * console.log(err.message); // "a.flac (FLAC): truncated: 10 of 90 frames"
 * console.log(err.summary); // "FLAC: truncated: 10 of 90 frames"
 * ```
 */
export class AudioDecodeError extends Error {
  /** The file (or label) that failed. */
  readonly file: string;
  /** Short description of the problem, e.g. "empty file" or "truncated: 3 of 90 frames". */
  readonly reason: string;
  /** The format the file was read as, when one was detected. */
  readonly format?: AudioFormat;

  /** Build an error for `file` with a short `reason`. */
  constructor(file: string, reason: string, options: AudioDecodeErrorOptions = {}) {
    const { format, ...errorOptions } = options;
    super(`${file}${format ? ` (${AUDIO_FORMAT_NAMES[format]})` : ""}: ${reason}`, errorOptions);
    this.name = "AudioDecodeError";
    this.file = file;
    this.reason = reason;
    this.format = format;
  }

  /** The reason with the format in front ("FLAC: truncated …"), for lists that name the file. */
  get summary(): string {
    return this.format ? `${AUDIO_FORMAT_NAMES[this.format]}: ${this.reason}` : this.reason;
  }
}

/**
 * Something a decoder repaired or skipped in a file that is still usable (a few damaged frames,
 * a non-finite sample set to zero). Plain data, so it crosses a Worker boundary unchanged.
 */
export interface AudioDecodeWarning {
  /** The file (or label) it is about. */
  file: string;
  /** The format the file was read as. */
  format: AudioFormat;
  /** What was repaired or skipped, with counts. */
  message: string;
}

/**
 * One line for a warning, naming the file and its format.
 *
 * @example
 * ```ts
 * import { formatAudioWarning } from "./errors.ts";
 * formatAudioWarning({ file: "a.mp3", format: "mp3", message: "2 damaged regions skipped" });
 * // "warning: a.mp3 (MP3): 2 damaged regions skipped"
 * ```
 */
export function formatAudioWarning(w: AudioDecodeWarning): string {
  return `warning: ${w.file} (${AUDIO_FORMAT_NAMES[w.format]}): ${w.message}`;
}

/** Prints a warning on stderr (the default for callers that give no `onWarning`). */
export function printAudioWarning(w: AudioDecodeWarning): void {
  console.warn(formatAudioWarning(w));
}
