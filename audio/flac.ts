/**
 * FLAC decoding: a small in-tree scanner (STREAMINFO, then every frame checked by its header
 * CRC-8 and its footer CRC-16) for duration, truncation and damage, and the WASM libFLAC build
 * from npm (`@wasm-audio-decoders/flac`) for the samples. Frames that fail their CRC and junk
 * between frames are damage: only whole, checked frames reach the decoder, and the policy in
 * `codec.ts` refuses a file that is mostly damage. A file that ends before the sample count in
 * its STREAMINFO is truncated (refused unless `allowTruncated`). Pure functions over bytes.
 * @module
 */

import { FLACDecoder } from "@wasm-audio-decoders/flac";
import { type DecodedAudio, type DecodeOptions, finishDecode, refuseTruncated } from "./codec.ts";
import { AudioDecodeError } from "./errors.ts";
import { skipId3v2, trailingTagsStart } from "./tags.ts";
import { SerialDecoder } from "./wasm_decoder.ts";

/** What {@linkcode scanFlac} learns without decoding. */
export interface FlacInfo {
  /** Samples per second (STREAMINFO). */
  sampleRate: number;
  /** Channels (STREAMINFO). */
  channelCount: number;
  /** Bits per sample (STREAMINFO). */
  bitsPerSample: number;
  /** Samples per channel the STREAMINFO promises; 0 when the encoder did not know. */
  totalSamples: number;
  /** Frames that pass both CRCs. */
  frameCount: number;
  /** Samples per channel in those frames. */
  frameSamples: number;
  /** Playable duration of the whole frames, in seconds. */
  durationSeconds: number;
  /** Why the file looks truncated, or `undefined` when it does not. */
  truncation?: string;
  /** Runs of junk or of frames failing their CRC, skipped as damage. */
  damagedRegions: number;
  /** Bytes in those runs. */
  damagedBytes: number;
  /** Share of the audio lost to damage, 0–1 (by bytes, or by samples against STREAMINFO). */
  lostFraction: number;
}

interface FlacWalk extends FlacInfo {
  /** [start, end) of each whole frame. */
  frames: [number, number][];
}

/** True when `bytes` start with `fLaC` (after any ID3v2 tag, which some taggers add). */
export function isFlac(bytes: Uint8Array): boolean {
  const at = skipId3v2(bytes);
  return at + 4 <= bytes.length && bytes[at] === 0x66 && bytes[at + 1] === 0x4c &&
    bytes[at + 2] === 0x61 && bytes[at + 3] === 0x43;
}

const CRC8 = new Uint8Array(256);
const CRC16 = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c8 = i, c16 = i << 8;
  for (let b = 0; b < 8; b++) {
    c8 = c8 & 0x80 ? ((c8 << 1) ^ 0x07) & 0xff : (c8 << 1) & 0xff; // x^8 + x^2 + x + 1
    c16 = c16 & 0x8000 ? ((c16 << 1) ^ 0x8005) & 0xffff : (c16 << 1) & 0xffff; // x^16+x^15+x^2+1
  }
  CRC8[i] = c8;
  CRC16[i] = c16;
}

interface FrameHeader {
  /** Samples per channel in the frame. */
  blockSize: number;
  /** First sample of the frame (frame number × block size for fixed-size streams). */
  firstSample: number;
}

const BLOCK_SIZES = [
  0,
  192,
  576,
  1152,
  2304,
  4608,
  -8,
  -16,
  256,
  512,
  1024,
  2048,
  4096,
  8192,
  16384,
  32768,
];

/** The frame header at `at` if it is one: sync, valid codes, and a matching CRC-8. */
function readFrameHeader(
  bytes: Uint8Array,
  at: number,
  channelCount: number,
  fixedBlockSize: number,
): FrameHeader | undefined {
  if (at + 6 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1] & 0xfe) !== 0xf8) {
    return undefined;
  }
  const variable = bytes[at + 1] & 1;
  const blockCode = bytes[at + 2] >> 4, rateCode = bytes[at + 2] & 15;
  const channelCode = bytes[at + 3] >> 4, sizeCode = (bytes[at + 3] >> 1) & 7;
  if (blockCode === 0 || rateCode === 15 || channelCode > 10 || (bytes[at + 3] & 1)) return;
  if (sizeCode === 3) return;
  if ((channelCode < 8 ? channelCode + 1 : 2) !== channelCount) return;
  // the frame or sample number, coded like UTF-8 (up to 7 bytes)
  let p = at + 4;
  const lead = bytes[p++];
  let extra = 0, number = lead;
  if (lead >= 0x80) {
    let mask = 0x40;
    while (lead & mask && extra < 6) {
      extra++;
      mask >>= 1;
    }
    if (extra === 0 || (lead & mask)) return; // a continuation byte, or 8 leading ones
    number = lead & (mask - 1);
    for (let i = 0; i < extra; i++) {
      const b = bytes[p++];
      if (b === undefined || (b & 0xc0) !== 0x80) return;
      number = number * 64 + (b & 0x3f);
    }
  }
  let blockSize = BLOCK_SIZES[blockCode];
  if (blockSize === -8) blockSize = bytes[p++] + 1;
  else if (blockSize === -16) {
    blockSize = ((bytes[p] << 8) | bytes[p + 1]) + 1;
    p += 2;
  }
  if (rateCode === 12) p += 1;
  else if (rateCode === 13 || rateCode === 14) p += 2;
  if (p >= bytes.length) return;
  let crc = 0;
  for (let i = at; i < p; i++) crc = CRC8[crc ^ bytes[i]];
  if (crc !== bytes[p]) return;
  return { blockSize, firstSample: variable ? number : number * fixedBlockSize };
}

/** End of the frame starting at `at` whose CRC-16 footer checks, or -1 within `limit` bytes. */
function findFrameEnd(
  bytes: Uint8Array,
  at: number,
  end: number,
  limit: number,
  isStart: (p: number) => boolean,
): number {
  let crc = 0;
  const stop = Math.min(end, at + limit);
  for (let p = at; p + 2 <= stop; p++) {
    // crc covers [at, p): the frame would end at p + 2 with its CRC in bytes p, p + 1
    if (p > at + 6 && ((bytes[p] << 8) | bytes[p + 1]) === crc) {
      if (p + 2 === end || isStart(p + 2)) return p + 2;
    }
    crc = ((crc << 8) & 0xffff) ^ CRC16[(crc >> 8) ^ bytes[p]];
  }
  return -1;
}

function walkFlac(bytes: Uint8Array, name: string): FlacWalk {
  if (bytes.length === 0) throw new AudioDecodeError(name, "empty file");
  const fail = (reason: string) => new AudioDecodeError(name, reason, { format: "flac" });
  const begin = skipId3v2(bytes);
  if (!isFlac(bytes)) throw fail("not a FLAC file: missing 'fLaC' marker");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = begin + 4;
  let info: { rate: number; channels: number; bits: number; total: number } | undefined;
  let minBlock = 0, maxFrameSize = 0;
  for (let last = false; !last;) {
    if (at + 4 > bytes.length) throw fail("truncated: the file ends inside its metadata blocks");
    last = (bytes[at] & 0x80) !== 0;
    const type = bytes[at] & 0x7f;
    const length = (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
    if (at + 4 + length > bytes.length) {
      throw fail("truncated: the file ends inside its metadata blocks");
    }
    if (type === 0) {
      if (length < 34) throw fail(`STREAMINFO block too short (${length} bytes)`);
      const s = at + 4;
      minBlock = view.getUint16(s, false);
      maxFrameSize = (bytes[s + 7] << 16) | (bytes[s + 8] << 8) | bytes[s + 9];
      const packed = view.getUint32(s + 10, false); // rate 20 | channels-1 3 | bits-1 5 | total hi 4
      info = {
        rate: packed >>> 12,
        channels: ((packed >>> 9) & 7) + 1,
        bits: ((packed >>> 4) & 31) + 1,
        total: (packed & 15) * 2 ** 32 + view.getUint32(s + 14, false),
      };
    } else if (type === 127) {
      throw fail(`invalid metadata block type 127`);
    }
    at += 4 + length;
  }
  if (!info) throw fail("missing STREAMINFO block");
  if (info.rate === 0) throw fail("STREAMINFO says sample rate 0");
  const end = Math.max(at, trailingTagsStart(bytes));
  const headerAt = (p: number) => readFrameHeader(bytes, p, info.channels, minBlock);
  const limit = maxFrameSize > 0 ? maxFrameSize : 1 << 22; // largest frame, from STREAMINFO
  const frames: [number, number][] = [];
  let frameSamples = 0, damagedBytes = 0, damagedRegions = 0, inDamage = false;
  let truncation: string | undefined;
  let lastEnd = 0; // first sample after the last whole frame
  const damage = (from: number, to: number) => {
    damagedBytes += to - from;
    if (!inDamage) damagedRegions++;
    inDamage = true;
  };
  while (at < end) {
    const h = headerAt(at);
    if (h) {
      const frameEnd = findFrameEnd(bytes, at, end, limit, (p) => headerAt(p) !== undefined);
      if (frameEnd > 0) {
        frames.push([at, frameEnd]);
        frameSamples += h.blockSize;
        lastEnd = h.firstSample + h.blockSize;
        inDamage = false;
        at = frameEnd;
        continue;
      }
      // a header whose frame never checks: cut off by the end of the file (when less than a
      // frame is left after it), or damaged
      let next = at + 1;
      while (next < end && !headerAt(next)) next++;
      if (next >= end && end - at < limit) {
        const of = info.total > 0 ? ` of ${info.total}` : "";
        truncation = `truncated: the file ends inside the frame at sample ${h.firstSample}${of}`;
        break;
      }
      damage(at, next);
      at = next;
      continue;
    }
    let next = at + 1;
    while (next < end && !headerAt(next)) next++;
    damage(at, next);
    at = next;
  }
  if (!truncation && !inDamage && info.total > 0 && lastEnd < info.total) {
    truncation = `truncated: frames end at sample ${lastEnd} of ${info.total}`;
  }
  const frameBytes = frames.reduce((t, [a, b]) => t + b - a, 0);
  let lostFraction = damagedBytes / Math.max(1, damagedBytes + frameBytes);
  if (damagedRegions > 0 && info.total > 0) {
    lostFraction = Math.max(lostFraction, 1 - frameSamples / info.total);
  }
  return {
    sampleRate: info.rate,
    channelCount: info.channels,
    bitsPerSample: info.bits,
    totalSamples: info.total,
    frameCount: frames.length,
    frameSamples,
    durationSeconds: frameSamples / info.rate,
    truncation,
    damagedRegions,
    damagedBytes,
    lostFraction,
    frames,
  };
}

/**
 * Walk a FLAC file's metadata and frames without decoding: rate, channels, duration, whether it
 * is truncated, and the damage (junk, frames failing their CRC) the walk steps over.
 *
 * @throws {AudioDecodeError} for an empty file, a missing `fLaC` marker or STREAMINFO, or
 *   metadata cut short
 *
 * @example
 * ```ts
 * import { scanFlac } from "./flac.ts";
 * const path = "tests/audio/fixtures/librispeech-1447-130550-0000.flac";
 * const info = scanFlac(await Deno.readFile(path), path);
 * console.log(info.sampleRate, info.durationSeconds, info.damagedRegions); // 16000 … 0
 * ```
 */
export function scanFlac(bytes: Uint8Array, name = "<flac>"): FlacInfo {
  const { frames: _, ...info } = walkFlac(bytes, name);
  return info;
}

const flac = new SerialDecoder(() => new FLACDecoder(), { resetBetweenJobs: true });

/**
 * Decode a FLAC file to mono float samples at its own rate. Only the frames that pass their
 * CRCs reach libFLAC; its errors are counted, not printed.
 *
 * @param bytes the whole file
 * @param name file name used in error messages and warnings
 * @throws {AudioDecodeError} for a file {@linkcode scanFlac} refuses, a truncated file (unless
 *   `allowTruncated`), a file that is mostly damage, or one that decodes to nothing
 *
 * @example
 * ```ts
 * import { decodeFlac } from "./flac.ts";
 * const path = "tests/audio/fixtures/librispeech-1447-130550-0000.flac";
 * const { sampleRate, samples } = await decodeFlac(await Deno.readFile(path), path);
 * console.log(sampleRate, samples.length / sampleRate); // 16000 …
 * ```
 */
export async function decodeFlac(
  bytes: Uint8Array,
  name = "<flac>",
  options: DecodeOptions = {},
): Promise<DecodedAudio> {
  const walk = walkFlac(bytes, name);
  refuseTruncated(name, "flac", walk.truncation, options);
  if (walk.frames.length === 0) { // mostly undecodable when damaged, else "no audio"
    return finishDecode(name, "flac", [], walk.sampleRate, { ...walk, decoderErrors: 0 });
  }
  // The checked frames go in one by one: the library's own frame parser drops a tiny last frame
  // (e.g. 13 bytes of digital silence) when it runs to the end of the file.
  const frames = walk.frames.map(([a, b]) => bytes.subarray(a, b));
  const decoded = await flac.run(name, "flac", (d) => d.decodeFrames(frames));
  // libFLAC reports the frames the scan skipped as MISSING_FRAME: that damage is counted already
  const errors = decoded.errors.filter((e) => !e.message.includes("MISSING_FRAME")).length;
  const missing = walk.frameSamples > 0 ? 1 - decoded.samplesDecoded / walk.frameSamples : 1;
  return finishDecode(name, "flac", decoded.channelData, walk.sampleRate, {
    lostFraction: Math.max(walk.lostFraction, missing),
    damagedRegions: walk.damagedRegions,
    decoderErrors: errors,
  }, walk.truncation !== undefined);
}
