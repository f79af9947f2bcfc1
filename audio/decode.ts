/**
 * The file edge of audio input: read a file, pick the decoder by its magic bytes (RIFF/WAVE,
 * or ID3 / MPEG frame sync for MP3), never by its extension, and return mono samples.
 * `loadAudio` adds resampling, like `librosa.load(path, sr=16000)`.
 * @module
 */

import { AudioDecodeError } from "./errors.ts";
import { decodeMp3, type DecodeMp3Options, isMp3, scanMp3 } from "./mp3.ts";
import { resample } from "./resample.ts";
import { decodeWav, isWav, readWavInfo, toMono } from "./wav.ts";

/** Mono audio at the file's own sample rate. */
export interface DecodedAudio {
  /** Samples per second. */
  sampleRate: number;
  /** Mono samples in [-1, 1] (multi-channel input is averaged). */
  samples: Float32Array;
  /** Channels in the file before downmixing. */
  channelCount: number;
}

/** Container formats recognised by {@linkcode sniffAudioFormat}. */
export type AudioFormat = "wav" | "mp3";

/** Options for {@linkcode loadAudio}. */
export interface LoadAudioOptions extends DecodeMp3Options {
  /** Resample to this rate (Hz); `undefined` keeps the file's own rate. */
  sampleRate?: number;
}

/** Which decoder `bytes` need, from magic bytes; `undefined` when neither matches. */
export function sniffAudioFormat(bytes: Uint8Array): AudioFormat | undefined {
  if (isWav(bytes)) return "wav";
  if (isMp3(bytes)) return "mp3";
  return undefined;
}

function unknownFormat(bytes: Uint8Array, name: string): AudioDecodeError {
  return new AudioDecodeError(
    name,
    bytes.length === 0 ? "empty file" : "unknown audio format (neither RIFF/WAVE nor MP3)",
  );
}

/**
 * Decode WAV or MP3 bytes to mono, choosing the decoder from the magic bytes.
 * @throws {AudioDecodeError} for an empty, unknown, broken or truncated file
 */
export async function decodeAudio(
  bytes: Uint8Array,
  name = "<audio>",
  options: DecodeMp3Options = {},
): Promise<DecodedAudio> {
  switch (sniffAudioFormat(bytes)) {
    case "wav": {
      const { sampleRate, channels } = decodeWav(bytes, name);
      return { sampleRate, samples: toMono(channels), channelCount: channels.length };
    }
    case "mp3": {
      const { sampleRate, samples, channelCount } = await decodeMp3(bytes, name, options);
      return { sampleRate, samples, channelCount };
    }
  }
  throw unknownFormat(bytes, name);
}

/**
 * Read and decode an audio file (WAV or MP3) to mono at its own sample rate.
 *
 * @throws {AudioDecodeError} for a broken file; `Deno.errors.NotFound` etc. pass through
 *
 * @example
 * ```ts
 * import { decodeAudioFile } from "./decode.ts";
 * const a = await decodeAudioFile("audio/sample/en/clips/common_voice_en_90000001.mp3");
 * console.log(a.sampleRate, a.samples.length);
 * ```
 */
export async function decodeAudioFile(
  path: string,
  options: DecodeMp3Options = {},
): Promise<DecodedAudio> {
  return decodeAudio(await Deno.readFile(path), path, options);
}

/**
 * Read a file, decode it to mono and (optionally) resample it: `librosa.load(path, sr=...)`.
 * Returns the samples and the rate they are at.
 *
 * @example
 * ```ts
 * import { loadAudio } from "./decode.ts";
 * const path = "audio/sample/en/clips/common_voice_en_90000001.mp3";
 * const { samples, sampleRate } = await loadAudio(path, { sampleRate: 16000 });
 * console.log(sampleRate); // 16000
 * ```
 */
export async function loadAudio(
  path: string,
  options: LoadAudioOptions = {},
): Promise<{ samples: Float32Array; sampleRate: number }> {
  const audio = await decodeAudioFile(path, options);
  const target = options.sampleRate ?? audio.sampleRate;
  return { samples: resample(audio.samples, audio.sampleRate, target), sampleRate: target };
}

/** What {@linkcode probeAudio} reads from a file's headers. */
export interface AudioProbe {
  /** Container format. */
  format: AudioFormat;
  /** Samples per second. */
  sampleRate: number;
  /** Playable duration in seconds. */
  durationSeconds: number;
  /** Why an MP3 looks truncated; `undefined` when it does not (always for WAV). */
  truncation?: string;
}

/**
 * Rate, duration and truncation from headers alone (no sample decoding): the WAV header, or
 * a walk over the MP3 frame headers with the LAME delay and padding removed.
 * @throws {AudioDecodeError} for an empty, unknown or malformed file
 *
 * @example
 * ```ts
 * import { probeAudio } from "./decode.ts";
 * const path = "audio/sample/en/clips/common_voice_en_90000001.mp3";
 * const { durationSeconds } = probeAudio(await Deno.readFile(path), path);
 * ```
 */
export function probeAudio(bytes: Uint8Array, name = "<audio>"): AudioProbe {
  switch (sniffAudioFormat(bytes)) {
    case "wav": {
      const { sampleRate, durationSeconds } = readWavInfo(bytes, name);
      return { format: "wav", sampleRate, durationSeconds };
    }
    case "mp3": {
      const { sampleRate, durationSeconds, truncation } = scanMp3(bytes, name);
      return { format: "mp3", sampleRate, durationSeconds, truncation };
    }
  }
  throw unknownFormat(bytes, name);
}
