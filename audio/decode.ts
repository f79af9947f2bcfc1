/**
 * The file edge of audio input: read a file, pick the decoder by its content (magic bytes:
 * `RIFF…WAVE`, `fLaC`, `OggS` with `\x01vorbis` or `OpusHead` in its first packet, ID3 or an
 * MPEG frame sync), never by its extension, and return checked mono samples (`codec.ts`: damage,
 * non-finite samples). `loadAudio` adds resampling, like `librosa.load(path, sr=16000)`, a
 * minimum length, and prints the warnings of a file that decoded with repairs.
 * @module
 */

import {
  type DecodedAudio,
  type DecodeOptions,
  finishDecode,
  judgeDamage,
  NonFiniteRepair,
  refuseTruncated,
  UNDAMAGED,
} from "./codec.ts";
import {
  AudioDecodeError,
  type AudioDecodeWarning,
  type AudioFormat,
  printAudioWarning,
} from "./errors.ts";
import { decodeFlac, isFlac, scanFlac } from "./flac.ts";
import { decodeMp3, isMp3, scanMp3 } from "./mp3.ts";
import { decodeOgg, oggCodecName, scanOgg } from "./ogg.ts";
import { resample, StreamResampler } from "./resample.ts";
import { decodeWav, isWav, readWavInfo, toMono } from "./wav.ts";
import { readWavBlocks, readWavFileLayout } from "./wav_file.ts";

export type { AudioFormat, DecodedAudio, DecodeOptions };

/** Options for {@linkcode loadAudio}. */
export interface LoadAudioOptions extends DecodeOptions {
  /** Resample to this rate (Hz); `undefined` keeps the file's own rate. */
  sampleRate?: number;
  /**
   * Refuse audio shorter than this many samples (at the returned rate), naming the file and the
   * minimum in samples and seconds: e.g. what a centred STFT needs (`minCenteredSamples`).
   */
  minSamples?: number;
  /** Called for each warning of a file that decoded with repairs; default: print on stderr. */
  onWarning?: (warning: AudioDecodeWarning) => void;
}

/**
 * Which decoder `bytes` need, from magic bytes; `undefined` when none matches (including an Ogg
 * file of another codec, e.g. Speex or Ogg FLAC).
 *
 * @example
 * ```ts
 * import { sniffAudioFormat } from "./decode.ts";
 * sniffAudioFormat(new TextEncoder().encode("fLaC\0\0\0\x22")); // "flac"
 * ```
 */
export function sniffAudioFormat(bytes: Uint8Array): AudioFormat | undefined {
  if (isWav(bytes)) return "wav";
  if (isFlac(bytes)) return "flac"; // before MP3: a FLAC file may start with an ID3 tag
  const ogg = oggCodecName(bytes);
  if (ogg === "vorbis") return "ogg-vorbis";
  if (ogg === "opus") return "ogg-opus";
  if (ogg === undefined && isMp3(bytes)) return "mp3";
  return undefined;
}

function unknownFormat(bytes: Uint8Array, name: string): AudioDecodeError {
  if (bytes.length === 0) return new AudioDecodeError(name, "empty file");
  const ogg = oggCodecName(bytes);
  if (ogg) {
    return new AudioDecodeError(name, `Ogg stream of codec '${ogg}' (only Vorbis and Opus)`);
  }
  const head = [...bytes.subarray(0, 4)]
    .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16)}`))
    .join("");
  return new AudioDecodeError(
    name,
    `unknown audio format (starts with '${head}'; WAV, MP3, FLAC, Ogg Vorbis and Ogg Opus ` +
      "are read, by content)",
  );
}

/**
 * Decode WAV, MP3, FLAC, Ogg Vorbis or Ogg Opus bytes to mono, choosing the decoder from the
 * magic bytes. Warnings (repairs) come back in the result; nothing is printed.
 * @throws {AudioDecodeError} for an empty, unknown, broken, mostly damaged or truncated file
 *
 * @example
 * ```ts
 * import { decodeAudio } from "./decode.ts";
 * import { encodeWav } from "./wav.ts";
 * const a = await decodeAudio(encodeWav(new Float32Array(800), 8000), "silence.wav");
 * console.log(a.format, a.sampleRate, a.samples.length); // wav 8000 800
 * ```
 */
export async function decodeAudio(
  bytes: Uint8Array,
  name = "<audio>",
  options: DecodeOptions = {},
): Promise<DecodedAudio> {
  switch (sniffAudioFormat(bytes)) {
    case "wav": {
      const { sampleRate, channels, truncation } = decodeWav(bytes, name);
      refuseTruncated(name, "wav", truncation, options);
      return finishDecode(name, "wav", channels, sampleRate, UNDAMAGED, truncation !== undefined);
    }
    case "mp3":
      return await decodeMp3(bytes, name, options);
    case "flac":
      return await decodeFlac(bytes, name, options);
    case "ogg-vorbis":
    case "ogg-opus":
      return await decodeOgg(bytes, name, options);
  }
  throw unknownFormat(bytes, name);
}

/**
 * Read and decode an audio file to mono at its own sample rate; warnings are in the result.
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
  options: DecodeOptions = {},
): Promise<DecodedAudio> {
  return decodeAudio(await Deno.readFile(path), path, options);
}

/**
 * Refuses `samples` shorter than `minSamples`, naming the file and the minimum.
 * @throws {AudioDecodeError} "too short: …" when `samples.length < minSamples`
 */
export function checkMinLength(
  samples: Float32Array,
  sampleRate: number,
  minSamples: number,
  name: string,
  format?: AudioFormat,
): void {
  if (samples.length >= minSamples) return;
  const s = (n: number) => `${(n / sampleRate).toFixed(3)} s`;
  throw new AudioDecodeError(
    name,
    `too short: ${samples.length} samples (${s(samples.length)}) at ${sampleRate} Hz; ` +
      `at least ${minSamples} (${s(minSamples)}) are needed`,
    { format },
  );
}

/**
 * Read a file, decode it to mono and (optionally) resample it: `librosa.load(path, sr=...)`.
 * Returns the samples and the rate they are at; warnings go to `onWarning` (default: stderr).
 *
 * @throws {AudioDecodeError} for a broken file, or one shorter than `minSamples`
 *
 * @example
 * ```ts
 * import { loadAudio } from "./decode.ts";
 * const path = "audio/sample/en/clips/common_voice_en_90000001.mp3";
 * const { samples, sampleRate } = await loadAudio(path, { sampleRate: 16000, minSamples: 513 });
 * console.log(sampleRate); // 16000
 * ```
 */
export async function loadAudio(
  path: string,
  options: LoadAudioOptions = {},
): Promise<{ samples: Float32Array; sampleRate: number; format: AudioFormat }> {
  const audio = await decodeAudioFile(path, options);
  audio.warnings.forEach(options.onWarning ?? printAudioWarning);
  const target = options.sampleRate ?? audio.sampleRate;
  const samples = resample(audio.samples, audio.sampleRate, target);
  if (options.minSamples !== undefined) {
    checkMinLength(samples, target, options.minSamples, path, audio.format);
  }
  return { samples, sampleRate: target, format: audio.format };
}

/** What {@linkcode probeAudio} reads from a file's headers. */
export interface AudioProbe {
  /** Format, by content. */
  format: AudioFormat;
  /** Samples per second of the decoded audio (Opus: 48000). */
  sampleRate: number;
  /** Playable duration in seconds. */
  durationSeconds: number;
  /** Why the file looks truncated; `undefined` when it does not. */
  truncation?: string;
  /** Share of the audio the scan found damaged (junk, failed checksums), 0–1. */
  lostFraction?: number;
}

/**
 * Rate, duration, truncation and damage without decoding samples: the WAV header, or a walk
 * over the MP3 frame headers (LAME delay and padding removed), the FLAC frames (CRC-checked)
 * or the Ogg pages (CRC-checked, granule positions).
 * @throws {AudioDecodeError} for an empty, unknown or malformed file, or one the scan finds
 *   mostly damaged (the same "mostly undecodable" decoding would give)
 *
 * @example
 * ```ts
 * import { probeAudio } from "./decode.ts";
 * const path = "audio/sample/en/clips/common_voice_en_90000001.mp3";
 * const { durationSeconds } = probeAudio(await Deno.readFile(path), path);
 * ```
 */
export function probeAudio(bytes: Uint8Array, name = "<audio>"): AudioProbe {
  const format = sniffAudioFormat(bytes);
  if (format === "wav") {
    const { sampleRate, durationSeconds, truncation } = readWavInfo(bytes, name);
    return { format, sampleRate, durationSeconds, truncation };
  }
  const scan = format === "mp3"
    ? scanMp3(bytes, name)
    : format === "flac"
    ? scanFlac(bytes, name)
    : format
    ? scanOgg(bytes, name)
    : undefined;
  if (!format || !scan) throw unknownFormat(bytes, name);
  const { sampleRate, durationSeconds, truncation, lostFraction, damagedRegions } = scan;
  judgeDamage(name, format, { lostFraction, damagedRegions, decoderErrors: 0 });
  return { format, sampleRate, durationSeconds, truncation, lostFraction };
}

/** An audio file opened for reading in blocks ({@linkcode openAudioStream}). */
export interface AudioStream {
  /** The file. */
  name: string;
  format: AudioFormat;
  /** Rate of the blocks (the asked `sampleRate`, else the file's). */
  sampleRate: number;
  /** Samples the blocks hold in all, at `sampleRate`. */
  length: number;
  /**
   * The samples in blocks of about a second, checked as {@linkcode loadAudio} checks them:
   * non-finite samples are set to 0 with a warning at the end, or the stream throws an
   * {@linkcode AudioDecodeError} at its end when most of them were.
   */
  blocks(): AsyncGenerator<Float32Array>;
}

/** Samples `resample` gives for `n` samples from `from` Hz to `to` Hz. */
function resampledLength(n: number, from: number, to: number): number {
  return from === to ? n : Math.ceil((n * to) / from);
}

/**
 * Opens an audio file for reading in blocks, at `sampleRate` when given: a WAV file is read from
 * disk a block at a time (memory holds a block, however long the file), other formats are
 * decoded whole first (memory holds their PCM) and then handed out in blocks. Its header (WAV)
 * or the whole decode is checked here, before any block is read: a broken, truncated or too
 * short file is refused by name.
 * @throws {AudioDecodeError} as {@linkcode loadAudio} does
 */
export async function openAudioStream(
  path: string,
  options: LoadAudioOptions = {},
): Promise<AudioStream> {
  const head = new Uint8Array(12);
  {
    const file = await Deno.open(path, { read: true });
    try {
      await file.read(head);
    } finally {
      file.close();
    }
  }
  const onWarning = options.onWarning ?? printAudioWarning;
  if (!isWav(head)) {
    const { samples, sampleRate, format } = await loadAudio(path, options);
    return {
      name: path,
      format,
      sampleRate,
      length: samples.length,
      async *blocks() {
        for (let at = 0; at < samples.length; at += sampleRate) {
          yield samples.subarray(at, at + sampleRate);
        }
      },
    };
  }
  const layout = await readWavFileLayout(path);
  refuseTruncated(path, "wav", layout.truncation, options);
  const frames = layout.dataBytes / layout.blockAlign;
  if (frames === 0) {
    throw new AudioDecodeError(path, "no audio: the file holds 0 samples", { format: "wav" });
  }
  const target = options.sampleRate ?? layout.sampleRate;
  const length = resampledLength(frames, layout.sampleRate, target);
  if (options.minSamples !== undefined) {
    checkMinLength(new Float32Array(length), target, options.minSamples, path, "wav");
  }
  return {
    name: path,
    format: "wav",
    sampleRate: target,
    length,
    async *blocks() {
      const resampler = new StreamResampler(layout.sampleRate, target);
      const nonFinite = new NonFiniteRepair();
      for await (const channels of readWavBlocks(path, layout, layout.sampleRate)) {
        const mono = channels.length === 1 ? channels[0] : toMono(channels);
        nonFinite.repair(mono);
        const y = resampler.push(mono);
        if (y.length) yield y;
      }
      const rest = resampler.flush();
      const warning = nonFinite.judge(path, "wav", layout.sampleRate);
      if (rest.length) yield rest;
      if (warning) onWarning(warning);
    },
  };
}
