/**
 * Error types shared by the audio readers: one class, one shape (file + reason), so callers
 * can skip a broken clip, count it and name it in a summary without parsing messages.
 * @module
 */

/**
 * A file could not be decoded as audio. `file` names the input (a path or a label the
 * caller gave) and `reason` says what is wrong with it, in a few words.
 *
 * @example
 * ```ts
 * import { AudioDecodeError } from "./errors.ts";
 * const err = new AudioDecodeError("a.mp3", "empty file");
 * console.log(err.message); // "a.mp3: empty file"
 * ```
 */
export class AudioDecodeError extends Error {
  /** The file (or label) that failed. */
  readonly file: string;
  /** Short description of the problem, e.g. "empty file" or "truncated: 3 of 90 frames". */
  readonly reason: string;

  /** Build an error for `file` with a short `reason`. */
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`${file}: ${reason}`, options);
    this.name = "AudioDecodeError";
    this.file = file;
    this.reason = reason;
  }
}
