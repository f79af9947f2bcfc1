/**
 * Ogg Vorbis and Ogg Opus decoding: a small in-tree Ogg page scanner (capture pattern, CRC-32 of
 * every page, the codec named by the first packet — `\x01vorbis` or `OpusHead` —, granule
 * positions for the duration, the end-of-stream flag for truncation) and the WASM decoders from
 * npm (`@wasm-audio-decoders/ogg-vorbis`, `ogg-opus-decoder`) for the samples. Pages that fail
 * their CRC and junk between pages are damage: only whole, checked pages reach the decoder, and
 * the policy in `codec.ts` refuses a file that is mostly damage. Opus decodes at 48 kHz, its
 * only output rate; resample with `resample.ts`. Pure functions over bytes.
 * @module
 */

import { OggVorbisDecoder } from "@wasm-audio-decoders/ogg-vorbis";
import { OggOpusDecoder } from "ogg-opus-decoder";
import { type DecodedAudio, type DecodeOptions, finishDecode, refuseTruncated } from "./codec.ts";
import { AudioDecodeError } from "./errors.ts";
import { joinRanges, SerialDecoder } from "./wasm_decoder.ts";

/** Codecs this module decodes from Ogg. */
export type OggCodec = "vorbis" | "opus";

/** What {@linkcode scanOgg} learns without decoding. */
export interface OggInfo {
  /** The codec of the (first) logical stream. */
  codec: OggCodec;
  /** Rate of the decoded samples: the Vorbis header's, or 48000 for Opus. */
  sampleRate: number;
  /** Rate of the encoder's input as the Opus header gives it (the Vorbis rate for Vorbis). */
  inputSampleRate: number;
  /** Channels (from the first packet). */
  channelCount: number;
  /** Pages that pass their CRC. */
  pageCount: number;
  /** Playable duration from the last granule positions (less Opus pre-skip), in seconds. */
  durationSeconds: number;
  /** Why the file looks truncated, or `undefined` when it does not. */
  truncation?: string;
  /** Runs of junk or of pages failing their CRC, skipped as damage. */
  damagedRegions: number;
  /** Bytes in those runs. */
  damagedBytes: number;
  /** Share of the audio lost to damage, 0–1 (by bytes). */
  lostFraction: number;
}

interface OggWalk extends OggInfo {
  /** [start, end) of each whole, checked page. */
  pages: [number, number][];
  /** Samples (at `sampleRate`) the end-of-stream granules promise; 0 when unknown. */
  expectedSamples: number;
}

const CRC32 = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let r = i << 24;
  for (let b = 0; b < 8; b++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  CRC32[i] = r >>> 0;
}

/** The Ogg CRC-32 (polynomial 0x04C11DB7, not reflected, initial 0) of a page, CRC field as 0. */
function pageCrc(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    const b = i - start >= 22 && i - start < 26 ? 0 : bytes[i];
    crc = ((crc << 8) ^ CRC32[((crc >>> 24) ^ b) & 0xff]) >>> 0;
  }
  return crc;
}

function isCapture(bytes: Uint8Array, at: number): boolean {
  return at + 4 <= bytes.length && bytes[at] === 0x4f && bytes[at + 1] === 0x67 &&
    bytes[at + 2] === 0x67 && bytes[at + 3] === 0x53;
}

function startsWith(bytes: Uint8Array, at: number, text: string): boolean {
  if (at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** True when `bytes` start with an Ogg page ("OggS"). */
export function isOgg(bytes: Uint8Array): boolean {
  return isCapture(bytes, 0) && bytes.length > 4 && bytes[4] === 0;
}

/** The codec a stream's first packet (at `body`) names. */
function codecAt(bytes: Uint8Array, body: number): string {
  if (startsWith(bytes, body, "\x01vorbis")) return "vorbis";
  if (startsWith(bytes, body, "OpusHead")) return "opus";
  if (startsWith(bytes, body, "\x7fFLAC")) return "flac";
  if (startsWith(bytes, body, "Speex   ")) return "speex";
  if (startsWith(bytes, body, "\x80theora")) return "theora";
  return "unknown";
}

/**
 * The codec named by the first packet of the first page, whatever it is ("vorbis", "opus",
 * "flac", "speex", "theora", or "unknown"); `undefined` when `bytes` do not start with a page.
 *
 * @example
 * ```ts
 * import { oggCodecName } from "./ogg.ts";
 * const path = "tests/audio/fixtures/fleurs-es-006.opus.ogg";
 * oggCodecName(await Deno.readFile(path)); // "opus"
 * ```
 */
export function oggCodecName(bytes: Uint8Array): string | undefined {
  if (!isOgg(bytes) || bytes.length < 27) return undefined;
  return codecAt(bytes, 27 + bytes[26]);
}

interface Stream {
  codec: string;
  rate: number;
  inputRate: number;
  channels: number;
  preSkip: number;
  granule: number;
  ended: boolean;
}

function walkOgg(bytes: Uint8Array, name: string): OggWalk {
  if (bytes.length === 0) throw new AudioDecodeError(name, "empty file");
  const firstCodec = oggCodecName(bytes);
  const format = firstCodec === "opus" ? "ogg-opus" : "ogg-vorbis";
  const fail = (reason: string) => new AudioDecodeError(name, reason, { format });
  if (firstCodec === undefined) throw fail("not an Ogg file: missing 'OggS' page");
  if (firstCodec !== "vorbis" && firstCodec !== "opus") {
    throw new AudioDecodeError(
      name,
      `Ogg stream of codec '${firstCodec}' (only Vorbis and Opus are read)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const streams = new Map<number, Stream>();
  const pages: [number, number][] = [];
  let damagedBytes = 0, damagedRegions = 0, inDamage = false;
  let truncation: string | undefined;
  const nextCapture = (from: number) => {
    let p = from;
    while (p < bytes.length && !isCapture(bytes, p)) p++;
    return p;
  };
  let at = 0;
  while (at < bytes.length) {
    if (isCapture(bytes, at) && bytes[at + 4] === 0 && at + 27 <= bytes.length) {
      const segments = bytes[at + 26];
      let end = at + 27 + segments;
      if (end <= bytes.length) {
        for (let i = 0; i < segments; i++) end += bytes[at + 27 + i];
      }
      if (end > bytes.length) {
        if (nextCapture(at + 4) >= bytes.length) {
          truncation = `truncated: the file ends inside page ${pages.length + 1}`;
          break;
        }
      } else if (pageCrc(bytes, at, end) === view.getUint32(at + 22, true)) {
        const type = bytes[at + 5];
        const granule = view.getBigInt64(at + 6, true);
        const serial = view.getUint32(at + 14, true);
        const body = at + 27 + segments;
        if (type & 2) streams.set(serial, readStreamHeader(bytes, view, body));
        const stream = streams.get(serial);
        if (stream) {
          if (granule >= 0n) stream.granule = Number(granule);
          if (type & 4) stream.ended = true;
        }
        pages.push([at, end]);
        inDamage = false;
        at = end;
        continue;
      }
    }
    const next = nextCapture(at + 1);
    damagedBytes += next - at;
    if (!inDamage) damagedRegions++;
    inDamage = true;
    at = next;
  }
  const audio = [...streams.values()].filter((s) => s.codec === firstCodec);
  if (audio.length === 0) throw fail("no intact first page (its CRC fails)");
  if (streams.size !== audio.length) {
    const codecs = [...new Set([...streams.values()].map((s) => s.codec))].join(", ");
    throw fail(`Ogg file mixes codecs (${codecs}); only one Vorbis or Opus stream is read`);
  }
  const first = audio[0];
  if (first.rate === 0) throw fail("header says sample rate 0");
  if (first.channels === 0) throw fail("header says 0 channels");
  if (!truncation && !inDamage && audio.some((s) => !s.ended)) {
    truncation = "truncated: the stream ends without its last (end-of-stream) page";
  }
  const samples = audio.reduce((t, s) => t + Math.max(0, s.granule - s.preSkip), 0);
  const pageBytes = pages.reduce((t, [a, b]) => t + b - a, 0);
  return {
    codec: firstCodec,
    sampleRate: first.rate,
    inputSampleRate: first.inputRate,
    channelCount: first.channels,
    pageCount: pages.length,
    durationSeconds: samples / first.rate,
    truncation,
    damagedRegions,
    damagedBytes,
    lostFraction: damagedBytes / Math.max(1, damagedBytes + pageBytes),
    pages,
    expectedSamples: audio.every((s) => s.ended) ? samples : 0,
  };
}

/** Codec, rates, channels and pre-skip from a stream's first packet. */
function readStreamHeader(bytes: Uint8Array, view: DataView, body: number): Stream {
  const stream = { rate: 0, inputRate: 0, channels: 0, preSkip: 0, granule: 0, ended: false };
  if (startsWith(bytes, body, "\x01vorbis") && body + 16 <= bytes.length) {
    const rate = view.getUint32(body + 12, true);
    return { ...stream, codec: "vorbis", channels: bytes[body + 11], rate, inputRate: rate };
  }
  if (startsWith(bytes, body, "OpusHead") && body + 16 <= bytes.length) {
    return {
      ...stream,
      codec: "opus",
      channels: bytes[body + 9],
      preSkip: view.getUint16(body + 10, true),
      rate: 48000,
      inputRate: view.getUint32(body + 12, true),
    };
  }
  return { ...stream, codec: codecAt(bytes, body) };
}

/**
 * Walk an Ogg Vorbis or Ogg Opus file's pages without decoding: codec, rates, channels,
 * duration, whether it is truncated, and the damage (junk, pages failing their CRC) the walk
 * steps over.
 *
 * @throws {AudioDecodeError} for an empty file, one that does not start with an Ogg page, an
 *   Ogg stream of another codec, or one whose first page is damaged
 *
 * @example
 * ```ts
 * import { scanOgg } from "./ogg.ts";
 * const path = "tests/audio/fixtures/fleurs-es-006.opus.ogg";
 * const info = scanOgg(await Deno.readFile(path), path);
 * console.log(info.codec, info.inputSampleRate, info.durationSeconds); // opus 16000 …
 * ```
 */
export function scanOgg(bytes: Uint8Array, name = "<ogg>"): OggInfo {
  const { pages: _p, expectedSamples: _e, ...info } = walkOgg(bytes, name);
  return info;
}

const vorbis = new SerialDecoder(() => new OggVorbisDecoder());
const opus = new SerialDecoder(() => new OggOpusDecoder());

/**
 * Decode an Ogg Vorbis or Ogg Opus file to mono float samples (Vorbis at its own rate, Opus at
 * 48 kHz). Only the pages that pass their CRC reach the decoder; its errors are counted, not
 * printed.
 *
 * @param bytes the whole file
 * @param name file name used in error messages and warnings
 * @throws {AudioDecodeError} for a file {@linkcode scanOgg} refuses, a truncated file (unless
 *   `allowTruncated`), a file that is mostly damage, or one that decodes to nothing
 *
 * @example
 * ```ts
 * import { decodeOgg } from "./ogg.ts";
 * const path = "tests/audio/fixtures/fleurs-es-006.opus.ogg";
 * const { format, sampleRate } = await decodeOgg(await Deno.readFile(path), path);
 * console.log(format, sampleRate); // ogg-opus 48000
 * ```
 */
export async function decodeOgg(
  bytes: Uint8Array,
  name = "<ogg>",
  options: DecodeOptions = {},
): Promise<DecodedAudio> {
  const walk = walkOgg(bytes, name);
  const format = walk.codec === "opus" ? "ogg-opus" : "ogg-vorbis";
  refuseTruncated(name, format, walk.truncation, options);
  const input = walk.damagedRegions > 0 || walk.truncation ? joinRanges(bytes, walk.pages) : bytes;
  const decoded =
    await (walk.codec === "opus"
      ? opus.run(name, format, (d) => d.decodeFile(input))
      : vorbis.run(name, format, (d) => d.decodeFile(input)));
  const errors = decoded.errors.length;
  const missing = walk.expectedSamples > 0 && (errors > 0 || walk.damagedRegions > 0)
    ? 1 - decoded.samplesDecoded / walk.expectedSamples
    : 0;
  return finishDecode(name, format, decoded.channelData, walk.sampleRate, {
    lostFraction: Math.max(walk.lostFraction, missing),
    damagedRegions: walk.damagedRegions,
    decoderErrors: errors,
  }, walk.truncation !== undefined);
}
