/**
 * Who is speaking in a file of a plain audio folder, from the naming conventions of the speech
 * corpora that encode it: one table of patterns, one function. A speaker id is
 * `corpus:id` (e.g. `librispeech:1088`), so ids of different corpora never collide; `null` means
 * the name says nothing about the speaker. Portable (strings only).
 * @module
 */

/** One naming convention: the corpus it belongs to and how its speaker id is read. */
export interface SpeakerPattern {
  /** Prefix of the ids it gives (`librispeech` → `librispeech:1088`). */
  corpus: string;
  /** A path it reads, for the documentation and the tests. */
  example: string;
  /** Matched against the `/`-separated path; capture group 1 is the id (or `id` below). */
  pattern: RegExp;
  /** A fixed id, for single-speaker corpora. */
  id?: string;
}

/**
 * The conventions, tried in order; the first that matches names the speaker. Each reads the
 * file's own name (after the last `/`) unless it reads a folder (VCTK `p225/`, speechocean762
 * `SPEAKER0001/`).
 */
export const SPEAKER_PATTERNS: readonly SpeakerPattern[] = [
  // LibriSpeech `<speaker>-<chapter>-<utterance>` (lhotse prefixes `libri-`).
  {
    corpus: "librispeech",
    example: "train-clean-100/1088-134315-0000.flac",
    pattern: /(?:^|\/)(?:libri-)?(\d+)-\d+-\d+(?:\.[^/]*)?$/,
  },
  // VCTK `p225_003.wav`, `p225_001_mic1.flac`, or any file in a `p225/` folder.
  {
    corpus: "vctk",
    example: "wavs/p225/p225_003.wav",
    pattern: /(?:^|\/)(p\d{3})(?:_\d+[^/]*$|\/)/,
  },
  // Google Speech Commands `<speaker hash>_nohash_<n>.wav`.
  {
    corpus: "speechcommands",
    example: "backward/0a2b400e_nohash_0.wav",
    pattern: /(?:^|\/)([0-9a-f]{8})_nohash_\d+(?:\.[^/]*)?$/,
  },
  // AudioMNIST `<digit>_<speaker>_<n>.wav`.
  {
    corpus: "audiomnist",
    example: "data/01/0_01_0.wav",
    pattern: /(?:^|\/)\d_(\d{2})_\d+\.[^/]*$/,
  },
  // LJSpeech `LJ001-0001.wav`: one reader.
  {
    corpus: "ljspeech",
    example: "wavs/LJ001-0001.wav",
    pattern: /(?:^|\/)LJ\d{3}-\d{4}[^/]*$/,
    id: "LJ",
  },
  // speechocean762 `WAVE/SPEAKER0001/000010011.WAV`.
  {
    corpus: "speechocean762",
    example: "WAVE/SPEAKER0001/000010011.WAV",
    pattern: /(?:^|\/)SPEAKER(\d{4})\//,
  },
];

/**
 * The speaker of the file at `path` (`/`- or `\`-separated, relative or not), as `corpus:id`,
 * or `null` when no convention of {@link SPEAKER_PATTERNS} matches its name.
 *
 * @example
 * ```ts
 * import { speakerOf } from "./speakers.ts";
 * speakerOf("LibriSpeech/train-clean-100/1088-134315-0000.flac"); // "librispeech:1088"
 * speakerOf("wavs/p225/p225_003.wav"); // "vctk:p225"
 * speakerOf("gb0.wav"); // null
 * ```
 */
export function speakerOf(path: string): string | null {
  const p = path.replaceAll("\\", "/");
  for (const { corpus, pattern, id } of SPEAKER_PATTERNS) {
    const m = pattern.exec(p);
    if (m) return `${corpus}:${id ?? m[1]}`;
  }
  return null;
}
