/**
 * WAV (RIFF/WAVE) reading and writing as pure functions over bytes: PCM 8/16/24/32-bit,
 * IEEE float 32/64-bit, plain `fmt ` or WAVE_FORMAT_EXTENSIBLE. No file access here; see
 * `decode.ts` for the file edge.
 * @module
 */

import { AudioDecodeError } from "./errors.ts";

/** Decoded multi-channel audio: one Float32Array per channel, samples in [-1, 1]. */
export interface WavAudio {
  /** Samples per second, as written in the header. */
  sampleRate: number;
  /** One array per channel (planar), all the same length. */
  channels: Float32Array[];
  /** Why the file looks truncated (its `data` chunk is cut short); absent when it does not. */
  truncation?: string;
}

/** Sample encodings `encodeWav` can write. */
export type WavSampleFormat = "pcm16" | "float32";

/** Options for {@linkcode encodeWav}. */
export interface EncodeWavOptions {
  /** `"pcm16"` (default; clips to [-1, 1]) or `"float32"` (IEEE float, format 3). */
  format?: WavSampleFormat;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function fourcc(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(
    bytes[offset],
    bytes[offset + 1],
    bytes[offset + 2],
    bytes[offset + 3],
  );
}

/** True when `bytes` start with a RIFF/WAVE header (cheap sniff, no validation). */
export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && fourcc(bytes, 0) === "RIFF" && fourcc(bytes, 8) === "WAVE";
}

/** A WAV file's sample format, from its `fmt ` chunk. */
export interface WavFormat {
  formatTag: number;
  channelCount: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

/** Where a WAV file's samples are: its format and its `data` chunk's place in the file. */
export interface WavLayout extends WavFormat {
  /** Byte offset of the first sample frame. */
  dataOffset: number;
  /** Bytes of sample data present in the file (a truncated chunk: what is there). */
  dataBytes: number;
  /** Why the file looks truncated; absent when it does not. */
  truncation?: string;
}

/**
 * Most sample bytes a WAV file can hold: its RIFF size field (32 bits) counts them plus the
 * 36 bytes of the canonical header.
 */
export const MAX_WAV_DATA_BYTES = 0xffffffff - 36;

/**
 * Decode a WAV file held in memory.
 *
 * A `data` chunk whose declared size runs past the end of the file is read up to the last
 * whole frame rather than refused; unless the size is a streaming writer's placeholder (0, or
 * 0x7FFF0000 and above, e.g. 0xFFFFFFFF), the result then says why it looks truncated.
 *
 * @param bytes the whole file
 * @param name file name used in error messages
 * @throws {AudioDecodeError} on a missing/invalid RIFF header, `fmt ` or `data` chunk, or an
 *   unsupported encoding (the message names which)
 *
 * @example
 * ```ts
 * import { decodeWav, encodeWav } from "./wav.ts";
 * const bytes = encodeWav(new Float32Array([0, 0.5, -0.5]), 16000);
 * const { sampleRate, channels } = decodeWav(bytes);
 * console.log(sampleRate, channels[0].length); // 16000 3
 * ```
 */
export function decodeWav(bytes: Uint8Array, name = "<wav>"): WavAudio {
  const { format, data, truncation } = parseWav(bytes, name);
  const channels = deinterleave(data, format, name);
  return { sampleRate: format.sampleRate, channels, ...(truncation ? { truncation } : {}) };
}

/** Sizes streaming writers put in a `data` header they cannot seek back to fix. */
function isPlaceholderSize(size: number): boolean {
  return size === 0 || size >= 0x7fff0000;
}

function parseWav(
  bytes: Uint8Array,
  name: string,
): { format: WavFormat; data: Uint8Array; truncation?: string } {
  const layout = readWavLayout(bytes, bytes.length, name);
  const data = bytes.subarray(layout.dataOffset, layout.dataOffset + layout.dataBytes);
  return { format: layout, data, ...(layout.truncation ? { truncation: layout.truncation } : {}) };
}

/**
 * The layout of a WAV file of `fileSize` bytes from its first bytes `head` (the whole file, or
 * enough of its start to hold the chunks before the samples, which are read from disk in pieces
 * afterwards). A `data` chunk that runs past the end of the file is read up to its last whole
 * frame, with a `truncation` reason unless its size is a streaming writer's placeholder.
 * @throws {AudioDecodeError} as {@linkcode decodeWav} does for a bad header
 */
export function readWavLayout(head: Uint8Array, fileSize: number, name = "<wav>"): WavLayout {
  if (fileSize === 0) throw new AudioDecodeError(name, "empty file");
  const fail = (reason: string) => new AudioDecodeError(name, reason, { format: "wav" });
  if (head.length < 12 || fourcc(head, 0) !== "RIFF") {
    throw fail("not a WAV file: missing 'RIFF' header");
  }
  if (fourcc(head, 8) !== "WAVE") {
    throw fail("not a WAV file: RIFF form type is not 'WAVE'");
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let format: WavFormat | undefined;
  let data: { offset: number; bytes: number } | undefined;
  let truncation: string | undefined;
  let offset = 12;
  while (offset + 8 <= fileSize && offset + 8 <= head.length) {
    const id = fourcc(head, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === "fmt ") {
      if (size < 16 || body + size > fileSize) {
        throw fail(`invalid 'fmt ' chunk (size ${size})`);
      }
      if (body + size > head.length) throw fail(`'fmt ' chunk past the first ${head.length} bytes`);
      format = readFormat(view, body, size, name);
    } else if (id === "data") {
      const available = fileSize - body;
      data = { offset: body, bytes: Math.min(size, available) };
      if (size > available) {
        if (!isPlaceholderSize(size)) {
          truncation = `truncated: 'data' chunk holds ${available} of ${size} bytes`;
        }
        break; // read what is there
      }
      if (format) break; // nothing after the samples is needed
    }
    offset = body + size + (size & 1); // chunks are padded to an even size
  }
  if (!format) throw fail("missing 'fmt ' chunk");
  if (!data) throw fail("missing 'data' chunk");
  const dataBytes = data.bytes - (data.bytes % format.blockAlign);
  return { ...format, dataOffset: data.offset, dataBytes, ...(truncation ? { truncation } : {}) };
}

function readFormat(view: DataView, at: number, size: number, name: string): WavFormat {
  let formatTag = view.getUint16(at, true);
  const channelCount = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40) {
      throw new AudioDecodeError(
        name,
        `WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk too short (${size})`,
        { format: "wav" },
      );
    }
    // the SubFormat GUID starts with the plain format tag (KSDATAFORMAT_SUBTYPE_PCM = 1, ...)
    formatTag = view.getUint16(at + 24, true);
  }
  const fail = (reason: string) => new AudioDecodeError(name, reason, { format: "wav" });
  if (channelCount === 0) throw fail("header says 0 channels");
  if (sampleRate === 0) throw fail("header says sample rate 0");
  const supported = (formatTag === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) ||
    (formatTag === WAVE_FORMAT_IEEE_FLOAT && [32, 64].includes(bitsPerSample));
  if (!supported) {
    throw fail(
      `unsupported encoding: format tag ${formatTag}, ${bitsPerSample} bits per sample ` +
        "(PCM 8/16/24/32-bit and float 32/64-bit are supported)",
    );
  }
  if (blockAlign !== channelCount * (bitsPerSample / 8)) {
    throw fail(
      `block align ${blockAlign} does not match ${channelCount} channels × ${bitsPerSample} bits`,
    );
  }
  return { formatTag, channelCount, sampleRate, blockAlign, bitsPerSample };
}

/**
 * Sample frames of a WAV `data` chunk (or a piece of it that starts on a frame), one array per
 * channel, in [-1, 1]; a partial frame at the end is left out.
 */
export function deinterleave(data: Uint8Array, f: WavFormat, name = "<wav>"): Float32Array[] {
  const frames = Math.floor(data.length / f.blockAlign);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const channels = Array.from({ length: f.channelCount }, () => new Float32Array(frames));
  const bytesPer = f.bitsPerSample / 8;
  const read = sampleReader(view, f, name);
  for (let i = 0; i < frames; i++) {
    const base = i * f.blockAlign;
    for (let c = 0; c < f.channelCount; c++) channels[c][i] = read(base + c * bytesPer);
  }
  return channels;
}

function sampleReader(view: DataView, f: WavFormat, name: string): (at: number) => number {
  if (f.formatTag === WAVE_FORMAT_IEEE_FLOAT) {
    return f.bitsPerSample === 32
      ? (at) => view.getFloat32(at, true)
      : (at) => view.getFloat64(at, true);
  }
  switch (f.bitsPerSample) {
    case 8: // 8-bit WAV is unsigned, centred on 128
      return (at) => (view.getUint8(at) - 128) / 128;
    case 16:
      return (at) => view.getInt16(at, true) / 32768;
    case 24:
      return (at) => {
        const v = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16);
        return v / 8388608;
      };
    case 32:
      return (at) => view.getInt32(at, true) / 2147483648;
  }
  throw new AudioDecodeError(name, `unsupported PCM bit depth ${f.bitsPerSample}`, {
    format: "wav",
  });
}

/**
 * Encode mono or multi-channel audio as a WAV file (16-bit PCM by default, or 32-bit float).
 * 16-bit output clips samples to [-1, 1] and rounds to the nearest step.
 *
 * @param samples one channel, or one array per channel (planar, equal lengths)
 * @param sampleRate samples per second
 *
 * @example
 * ```ts
 * import { encodeWav } from "./wav.ts";
 * const tone = Float32Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin(i / 10));
 * const bytes = encodeWav(tone, 16000, { format: "float32" });
 * console.log(bytes.length); // 44 + 16000 * 4
 * ```
 */
export function encodeWav(
  samples: Float32Array | Float32Array[],
  sampleRate: number,
  options: EncodeWavOptions = {},
): Uint8Array {
  const channels = Array.isArray(samples) ? samples : [samples];
  if (channels.length === 0) throw new RangeError("encodeWav: no channels");
  const frames = channels[0].length;
  if (channels.some((c) => c.length !== frames)) {
    throw new RangeError("encodeWav: channels differ in length");
  }
  if (!(sampleRate > 0) || !Number.isInteger(sampleRate)) {
    throw new RangeError(`encodeWav: invalid sample rate ${sampleRate}`);
  }
  const float = options.format === "float32";
  const bytesPer = float ? 4 : 2;
  const dataSize = frames * channels.length * bytesPer;
  const out = new Uint8Array(44 + dataSize + (dataSize & 1));
  out.set(wavHeader(dataSize, sampleRate, channels.length, options.format));
  const view = new DataView(out.buffer);
  let at = 44;
  for (let i = 0; i < frames; i++) {
    for (const channel of channels) {
      if (float) view.setFloat32(at, channel[i], true);
      else view.setInt16(at, pcm16(channel[i]), true);
      at += bytesPer;
    }
  }
  return out;
}

/** A sample as 16-bit PCM: clipped to [-1, 1], rounded to the nearest step; NaN → 0. */
function pcm16(x: number): number {
  const clipped = x > 1 ? 1 : x < -1 ? -1 : x || 0;
  return Math.round(clipped * 32767);
}

/** Mono samples as the little-endian 16-bit PCM bytes {@linkcode encodeWav} writes. */
export function encodePcm16(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(2 * i, pcm16(samples[i]), true);
  return out;
}

/**
 * The canonical 44-byte header of a WAV file holding `dataBytes` bytes of samples (PCM16 by
 * default, or float32), `channelCount` channels interleaved; a writer that streams its samples
 * writes it first and again, with the final size, at the end.
 */
export function wavHeader(
  dataBytes: number,
  sampleRate: number,
  channelCount = 1,
  format: WavSampleFormat = "pcm16",
): Uint8Array {
  if (dataBytes > MAX_WAV_DATA_BYTES) {
    throw new RangeError(`wavHeader: ${dataBytes} bytes of samples do not fit a WAV file`);
  }
  const float = format === "float32";
  const bytesPer = float ? 4 : 2;
  const blockAlign = channelCount * bytesPer;
  const out = new Uint8Array(44);
  const view = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + dataBytes + (dataBytes & 1), true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, float ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM, true);
  view.setUint16(22, channelCount, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bytesPer * 8, true);
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  return out;
}

/**
 * Average channels into one (librosa's `to_mono`). A single channel is returned as is.
 *
 * @example
 * ```ts
 * import { toMono } from "./wav.ts";
 * toMono([new Float32Array([1, 0]), new Float32Array([0, 0])]); // Float32Array [0.5, 0]
 * ```
 */
export function toMono(channels: Float32Array[]): Float32Array {
  if (channels.length === 0) throw new RangeError("toMono: no channels");
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const out = new Float32Array(n);
  for (const channel of channels) {
    if (channel.length !== n) throw new RangeError("toMono: channels differ in length");
    for (let i = 0; i < n; i++) out[i] += channel[i];
  }
  const scale = 1 / channels.length;
  for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}

/** What {@linkcode readWavInfo} reads from a WAV header. */
export interface WavInfo {
  /** Samples per second. */
  sampleRate: number;
  /** Channels in the file. */
  channelCount: number;
  /** Sample frames in the `data` chunk (whole frames present in the file). */
  frameCount: number;
  /** `frameCount / sampleRate`. */
  durationSeconds: number;
  /** Why the file looks truncated; absent when it does not. */
  truncation?: string;
}

/**
 * Rate, channels and duration of a WAV file from its header alone (no sample decoding).
 * @throws {AudioDecodeError} as {@linkcode decodeWav} does for a bad header
 *
 * @example
 * ```ts
 * import { encodeWav, readWavInfo } from "./wav.ts";
 * readWavInfo(encodeWav(new Float32Array(8000), 16000)).durationSeconds; // 0.5
 * ```
 */
export function readWavInfo(bytes: Uint8Array, name = "<wav>"): WavInfo {
  const { format, data, truncation } = parseWav(bytes, name);
  const frameCount = Math.floor(data.length / format.blockAlign);
  return {
    sampleRate: format.sampleRate,
    channelCount: format.channelCount,
    frameCount,
    durationSeconds: frameCount / format.sampleRate,
    ...(truncation ? { truncation } : {}),
  };
}
