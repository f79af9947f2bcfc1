/**
 * MP3 decoding: a small in-tree MPEG frame scanner (ID3v2 skip, frame headers, Xing/Info and
 * LAME tags) for validation, duration and damage, and the WASM mpg123 build from npm
 * (`mpg123-decoder`) for the samples. Pure functions over bytes; no file access.
 *
 * Truncated files are refused by default: a clip cut mid-way no longer matches its
 * transcript or its listed duration, so training on it silently is worse than skipping it.
 * Pass `{ allowTruncated: true }` to get the frames that are whole (the result then says
 * `truncated: true`). Junk between frames (a damaged region) is skipped by the scan and only
 * the whole frames go to mpg123; the policy in `codec.ts` then refuses a file that is mostly
 * junk and warns, naming the file, about one that is not.
 * @module
 */

import { MPEGDecoder } from "mpg123-decoder";
import { type DecodedAudio, type DecodeOptions, finishDecode, refuseTruncated } from "./codec.ts";
import { AudioDecodeError } from "./errors.ts";
import { id3v2Length, skipId3v2, trailingTagsStart } from "./tags.ts";
import { joinRanges, SerialDecoder } from "./wasm_decoder.ts";

/** What {@linkcode scanMp3} learns from the frame headers alone. */
export interface Mp3Info {
  /** Samples per second of the first frame. */
  sampleRate: number;
  /** 1 (mono) or 2. */
  channelCount: number;
  /** Audio frames that are whole in the file (the Xing/Info frame is not counted). */
  frameCount: number;
  /** Samples per frame (1152 for MPEG-1 Layer III, 576 for MPEG-2/2.5 Layer III). */
  samplesPerFrame: number;
  /** Playable duration: frames × samples per frame, less LAME encoder delay and padding. */
  durationSeconds: number;
  /** Why the file looks truncated, or `undefined` when it does not. */
  truncation?: string;
  /** Runs of junk between (or before, or after) the frames, skipped as damage. */
  damagedRegions: number;
  /** Bytes in those runs. */
  damagedBytes: number;
  /** Share of the audio that the damage cost, 0–1 (junk bytes, or frames missing by Xing). */
  lostFraction: number;
}

interface FrameHeader {
  version: number; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
  layer: number; // 1, 2 or 3
  sampleRate: number;
  samplesPerFrame: number;
  frameLength: number;
  channelCount: number;
}

const BITRATES_KBPS: Record<string, number[]> = {
  "1-1": [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  "1-2": [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  "1-3": [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  "2-1": [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  "2-2": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  "2-3": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

function readFrameHeader(bytes: Uint8Array, at: number): FrameHeader | undefined {
  if (at + 4 > bytes.length) return undefined;
  const b1 = bytes[at + 1], b2 = bytes[at + 2], b3 = bytes[at + 3];
  if (bytes[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const version = (b1 >> 3) & 3;
  const layer = 4 - ((b1 >> 1) & 3);
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  // reserved version/layer/rate, and free-format or bad bitrate (no length to walk by)
  if (
    version === 1 || layer === 4 || rateIndex === 3 || bitrateIndex === 0 || bitrateIndex === 15
  ) {
    return undefined;
  }
  const sampleRate = SAMPLE_RATES[version][rateIndex];
  const bitrate = BITRATES_KBPS[`${version === 3 ? 1 : 2}-${layer}`][bitrateIndex] * 1000;
  const padding = (b2 >> 1) & 1;
  const samplesPerFrame = layer === 1 ? 384 : layer === 3 && version !== 3 ? 576 : 1152;
  const frameLength = layer === 1
    ? (Math.floor((12 * bitrate) / sampleRate) + padding) * 4
    : Math.floor((samplesPerFrame / 8) * bitrate / sampleRate) + padding;
  const channelCount = b3 >> 6 === 3 ? 1 : 2;
  return { version, layer, sampleRate, samplesPerFrame, frameLength, channelCount };
}

/** True when `bytes` look like MP3: an ID3v2 tag or an MPEG audio frame header at the start. */
export function isMp3(bytes: Uint8Array): boolean {
  return (bytes.length >= 3 && bytes[0] === 0x49 && bytes[1] === 0x44 && bytes[2] === 0x33) ||
    readFrameHeader(bytes, 0) !== undefined;
}

function sameStream(a: FrameHeader, b: FrameHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

/**
 * First frame header in [from, end) that a second header (or the end) confirms; guards false
 * syncs. With `like`, only frames of that stream count (resynchronising after junk).
 */
function findFirstFrame(bytes: Uint8Array, from: number, end: number, like?: FrameHeader): number {
  for (let at = from; at + 4 <= end; at++) {
    const h = readFrameHeader(bytes, at);
    if (!h || (like && !sameStream(h, like))) continue;
    const next = at + h.frameLength;
    if (next === end) return at;
    if (next > end) continue;
    const h2 = readFrameHeader(bytes, next);
    if (h2 && sameStream(h, h2)) return at;
  }
  return -1;
}

/** Reads the Xing/Info tag of the first frame, if any: audio frame count, encoder delay. */
function readXing(
  bytes: Uint8Array,
  at: number,
  h: FrameHeader,
): { frames?: number; delay: number; padding: number } | undefined {
  const sideInfo = h.version === 3
    ? (h.channelCount === 1 ? 17 : 32)
    : (h.channelCount === 1 ? 9 : 17);
  const tag = at + 4 + sideInfo;
  if (tag + 8 > bytes.length) return undefined;
  const id = String.fromCharCode(...bytes.subarray(tag, tag + 4));
  if (id !== "Xing" && id !== "Info") return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = view.getUint32(tag + 4, false);
  let p = tag + 8;
  let frames: number | undefined;
  if (flags & 1) {
    frames = view.getUint32(p, false);
    p += 4;
  }
  if (flags & 2) p += 4; // byte count
  if (flags & 4) p += 100; // seek table
  if (flags & 8) p += 4; // quality
  let delay = 0, padding = 0;
  // LAME extension: 9-byte version string, then at +21 the 12-bit delay and 12-bit padding
  if (p + 24 <= bytes.length && String.fromCharCode(...bytes.subarray(p, p + 4)) === "LAME") {
    const d = p + 21;
    delay = (bytes[d] << 4) | (bytes[d + 1] >> 4);
    padding = ((bytes[d + 1] & 0x0f) << 8) | bytes[d + 2];
  }
  return { frames, delay, padding };
}

/** The frames a walk found: [start, end) byte ranges, the Xing/Info frame included. */
interface Mp3Walk extends Mp3Info {
  frames: [number, number][];
}

function walkMp3(bytes: Uint8Array, name: string): Mp3Walk {
  if (bytes.length === 0) throw new AudioDecodeError(name, "empty file");
  const start = skipId3v2(bytes);
  if (start >= bytes.length) {
    throw new AudioDecodeError(name, "no MPEG audio frames (file holds only an ID3 tag)", {
      format: "mp3",
    });
  }
  const end = Math.max(start, trailingTagsStart(bytes));
  const first = findFirstFrame(bytes, start, bytes.length);
  if (first < 0) {
    throw new AudioDecodeError(name, "no MPEG audio frames found (not an MP3 file?)", {
      format: "mp3",
    });
  }
  const h0 = readFrameHeader(bytes, first)!;
  const xing = readXing(bytes, first, h0);
  const frames: [number, number][] = [];
  let damagedBytes = first - start, damagedRegions = first > start ? 1 : 0;
  let truncation: string | undefined;
  let at = first;
  while (at < end) {
    const h = readFrameHeader(bytes, at);
    if (h && sameStream(h, h0)) {
      if (at + h.frameLength > bytes.length) {
        truncation = `truncated: last frame has ${bytes.length - at} of ${h.frameLength} bytes`;
        break;
      }
      frames.push([at, at + h.frameLength]);
      at += h.frameLength;
      continue;
    }
    const tag = id3v2Length(bytes, at); // a tag between two streams is no damage
    if (tag > 0) {
      at += tag;
      continue;
    }
    if (end - at < 4 && bytes[at] === 0xff) {
      truncation = `truncated: the file ends inside a frame header`;
      break;
    }
    const next = findFirstFrame(bytes, at + 1, end, h0); // junk: find the stream again
    const stop = next < 0 ? end : next;
    damagedBytes += stop - at;
    damagedRegions++;
    at = stop;
  }
  let frameCount = frames.length;
  if (xing) frameCount--; // the Info frame carries no audio
  const frameBytes = frames.reduce((t, [a, b]) => t + b - a, 0);
  let lostFraction = damagedBytes / Math.max(1, damagedBytes + frameBytes);
  if (xing?.frames !== undefined && frameCount < xing.frames) {
    if (damagedRegions > 0) lostFraction = Math.max(lostFraction, 1 - frameCount / xing.frames);
    else truncation ??= `truncated: ${frameCount} of ${xing.frames} frames present`;
  }
  const totalSamples = Math.max(
    0,
    frameCount * h0.samplesPerFrame - (xing ? xing.delay + xing.padding : 0),
  );
  return {
    sampleRate: h0.sampleRate,
    channelCount: h0.channelCount,
    frameCount,
    samplesPerFrame: h0.samplesPerFrame,
    durationSeconds: totalSamples / h0.sampleRate,
    truncation,
    damagedRegions,
    damagedBytes,
    lostFraction,
    frames,
  };
}

/**
 * Walk the MPEG frames of an MP3 file without decoding them: rate, channels, frame count,
 * duration, whether the file is truncated, and the junk (damage) between frames, which the
 * walk steps over by finding the stream again. Cheap enough to run on every clip of a corpus.
 *
 * @param bytes the whole file
 * @param name file name used in error messages
 * @throws {AudioDecodeError} for an empty file or one with no MPEG audio frames
 *
 * @example
 * ```ts
 * import { scanMp3 } from "./mp3.ts";
 * const info = scanMp3(await Deno.readFile("audio/sample/en/clips/common_voice_en_90000001.mp3"));
 * console.log(info.sampleRate, info.durationSeconds.toFixed(2), info.damagedRegions); // 48000 … 0
 * ```
 */
export function scanMp3(bytes: Uint8Array, name = "<mp3>"): Mp3Info {
  const { frames: _, ...info } = walkMp3(bytes, name);
  return info;
}

const mpeg = new SerialDecoder(() => new MPEGDecoder(), { resetBetweenJobs: true });

/**
 * Decode an MP3 file to mono float samples at its own sample rate (never assumed: read it
 * from the result and resample with `resample` from `resample.ts`). Junk between frames is
 * skipped (only whole frames reach mpg123); the library's errors are counted, not printed.
 *
 * @param bytes the whole file
 * @param name file name used in error messages and warnings
 * @throws {AudioDecodeError} for an empty file, a file with no MPEG frames (e.g. text named
 *   `.mp3`), a truncated file (unless `allowTruncated`), a file that is mostly junk or that
 *   the decoder mostly rejects, or a stream that decodes to nothing
 *
 * @example
 * ```ts
 * import { decodeMp3 } from "./mp3.ts";
 * const path = "audio/sample/en/clips/common_voice_en_90000001.mp3";
 * const { sampleRate, samples, warnings } = await decodeMp3(await Deno.readFile(path), path);
 * console.log(sampleRate, samples.length / sampleRate, warnings.length); // 48000 … 0
 * ```
 */
export async function decodeMp3(
  bytes: Uint8Array,
  name = "<mp3>",
  options: DecodeOptions = {},
): Promise<DecodedAudio> {
  const walk = walkMp3(bytes, name);
  refuseTruncated(name, "mp3", walk.truncation, options);
  const input = walk.damagedRegions > 0 ? joinRanges(bytes, walk.frames) : bytes;
  const decoded = await mpeg.run(name, "mp3", (d) => d.decode(input));
  const errors = decoded.errors.length;
  if (decoded.samplesDecoded === 0) {
    const why = errors ? `: ${decoded.errors[0].message}` : "";
    throw new AudioDecodeError(name, `no audio decoded${why}`, { format: "mp3" });
  }
  const [left, right] = decoded.channelData;
  const channels = walk.channelCount === 1 || !right ? [left] : [left, right];
  const expected = walk.durationSeconds * walk.sampleRate;
  const missing = expected > 0 && errors > 0 ? 1 - decoded.samplesDecoded / expected : 0;
  return finishDecode(name, "mp3", channels, walk.sampleRate, {
    lostFraction: Math.max(walk.lostFraction, missing),
    damagedRegions: walk.damagedRegions,
    decoderErrors: errors,
  }, walk.truncation !== undefined);
}
