/**
 * One shard file of a feature cache (audio/feature_cache.ts), self-describing so that a file
 * copied in from another cache, or cut short, is recognised as such wherever it is read:
 *
 *   bytes 0–7     magic `AGFSHARD`
 *   bytes 8–11    format version, u32 little-endian ({@link SHARD_FORMAT_VERSION})
 *   bytes 12–15   H: length of the JSON header in bytes, u32 little-endian
 *   bytes 16…     the JSON header ({@link ShardHeader}: the cache's plan fingerprint, the
 *                 shard's own file name, nMels, its clips and skipped clips, the value count)
 *   then          zero padding to a multiple of 8 bytes
 *   then          the log-mel features as IEEE binary16, little-endian: each clip [frames, nMels]
 *                 row-major, clips back to back in header order (`offset` in values)
 *
 * Half precision adds at most 2^−11 relative error to a value (log-mels of speech lie within
 * ±16, so at most 0.008 in natural-log units, 0.034 dB); tests/audio/feature_shard_test.ts
 * measures it on real speech. Portable (bytes in, bytes out).
 * @module
 */
import { float16ToFloat32, float32ToFloat16 } from "../engine/float16.ts";
import type { SkippedItem } from "./commonvoice.ts";

/** Bumped whenever the layout of a shard file changes. */
export const SHARD_FORMAT_VERSION = 2;

const MAGIC = "AGFSHARD";
const PREFIX_BYTES = 16;

/** One clip in a shard. */
export interface CachedClip {
  path: string;
  clientId: string;
  sentence: string;
  /** Number of feature frames. */
  frames: number;
  /** Length of the resampled audio, in seconds. */
  durationSeconds: number;
  /** Offset of the clip's first value in the shard's features, in values. */
  offset: number;
  /** For a segment of a longer file (`path` is then `FILE#K`): where it starts in the file. */
  startSeconds?: number;
}

/** What a shard file says about itself. */
export interface ShardHeader {
  /** Fingerprint of the plan of the cache (or part) the shard was written for. */
  plan: string;
  /** The shard's own file name (`shard-00012.f16`). */
  shard: string;
  nMels: number;
  clips: CachedClip[];
  /** Clips of this shard that could not be decoded. */
  skipped: SkippedItem[];
  /** Number of feature values (binary16) after the header. */
  values: number;
}

/** A shard file that cannot be used: it names the file and says what is wrong with it. */
export class ShardError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`feature shard ${file}: ${problem}`);
    this.name = "ShardError";
  }
}

/** The bytes of a shard file holding `features` (f32, rounded to binary16) and `header`. */
export function encodeShard(
  header: Omit<ShardHeader, "values">,
  features: Float32Array,
): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ ...header, values: features.length }));
  const dataOffset = Math.ceil((PREFIX_BYTES + json.length) / 8) * 8;
  const bytes = new Uint8Array(dataOffset + features.length * 2);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, SHARD_FORMAT_VERSION, true);
  view.setUint32(12, json.length, true);
  bytes.set(json, PREFIX_BYTES);
  new Uint16Array(bytes.buffer, dataOffset, features.length).set(float32ToFloat16(features));
  return bytes;
}

/** What a reader expects of a shard: the plan it belongs to, its file name and band count. */
export interface ShardExpectation {
  plan: string;
  shard: string;
  nMels: number;
}

/**
 * The header of shard bytes and where its features start. `file` names it in errors; with
 * `expect`, a shard of another cache (plan or name) or another band count is refused, and so
 * is one cut short or with bytes beyond its features.
 * @throws {ShardError}
 */
export function decodeShardHeader(
  bytes: Uint8Array,
  file: string,
  expect?: ShardExpectation,
): { header: ShardHeader; dataOffset: number } {
  if (bytes.length < PREFIX_BYTES || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new ShardError(file, "not a feature shard (no AGFSHARD magic)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== SHARD_FORMAT_VERSION) {
    throw new ShardError(file, `format version ${version}, expected ${SHARD_FORMAT_VERSION}`);
  }
  const headerBytes = view.getUint32(12, true);
  if (PREFIX_BYTES + headerBytes > bytes.length) {
    throw new ShardError(file, `truncated: ${bytes.length} bytes, its header alone needs more`);
  }
  let header: ShardHeader;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes)),
    );
  } catch (e) {
    throw new ShardError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || !Array.isArray(header.clips) || !Number.isSafeInteger(header.values)) {
    throw new ShardError(file, "header lacks its clips or value count");
  }
  if (expect) {
    if (header.plan !== expect.plan || header.shard !== expect.shard) {
      throw new ShardError(
        file,
        `belongs to another cache (it is ${header.shard} of plan ${header.plan}; expected ` +
          `${expect.shard} of plan ${expect.plan})`,
      );
    }
    if (header.nMels !== expect.nMels) {
      throw new ShardError(file, `has ${header.nMels} mel bands, expected ${expect.nMels}`);
    }
  }
  const dataOffset = Math.ceil((PREFIX_BYTES + headerBytes) / 8) * 8;
  const expected = dataOffset + header.values * 2;
  if (bytes.length !== expected) {
    throw new ShardError(
      file,
      `${bytes.length < expected ? "truncated" : "too long"}: ${bytes.length} bytes, its header ` +
        `says ${expected}`,
    );
  }
  const frames = header.clips.reduce((n, c) => n + c.frames, 0);
  if (frames * header.nMels !== header.values) {
    throw new ShardError(file, `its clips hold ${frames} frames, not ${header.values} values`);
  }
  return { header, dataOffset };
}

/** A shard's header and its features as binary16 bit patterns (a view of `bytes`). */
export interface DecodedShard {
  header: ShardHeader;
  half: Uint16Array;
}

/**
 * Decodes shard bytes (see {@link decodeShardHeader} for the checks). The features stay
 * binary16 (a view into `bytes`, which must start 8-byte aligned, as a file read does).
 * @throws {ShardError}
 */
export function decodeShard(
  bytes: Uint8Array,
  file: string,
  expect?: ShardExpectation,
): DecodedShard {
  const { header, dataOffset } = decodeShardHeader(bytes, file, expect);
  if ((bytes.byteOffset + dataOffset) % 2 !== 0) {
    bytes = bytes.slice(); // a misaligned view: copy to a buffer of its own
  }
  return {
    header,
    half: new Uint16Array(bytes.buffer, bytes.byteOffset + dataOffset, header.values),
  };
}

/** One clip's features [frames, nMels] as f32 (exact: every binary16 is an f32). */
export function clipFeatures(shard: DecodedShard, clip: CachedClip): Float32Array {
  const n = shard.header.nMels;
  return float16ToFloat32(shard.half.subarray(clip.offset, clip.offset + clip.frames * n));
}

/**
 * Checks a shard's header against the index entry listing it (clip and frame counts), so a
 * shard rewritten since the index is refused; returns the shard.
 * @throws {ShardError}
 */
export function checkShardEntry<T extends { header: ShardHeader }>(
  file: string,
  shard: T,
  entry: { clips: number; frames: number },
): T {
  const { clips } = shard.header;
  const frames = clips.reduce((n, c) => n + c.frames, 0);
  if (clips.length !== entry.clips || frames !== entry.frames) {
    throw new ShardError(
      file,
      `holds ${clips.length} clips of ${frames} frames, its index entry says ${entry.clips} of ` +
        `${entry.frames}`,
    );
  }
  return shard;
}
