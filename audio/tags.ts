/**
 * Metadata tags around compressed audio (MP3, FLAC): ID3v2 at the start, ID3v1, APEv2 and
 * Lyrics3v2 at the end. Tells where a tagged file's audio begins and ends, so the frame scanners
 * do not count tags as damage. Pure functions over bytes.
 * @module
 */

function ascii(bytes: Uint8Array, at: number, text: string): boolean {
  if (at < 0 || at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** Length of the ID3v2 tag at `at`, or 0 when there is none (its size is "syncsafe"). */
export function id3v2Length(bytes: Uint8Array, at: number): number {
  if (at + 10 > bytes.length || !ascii(bytes, at, "ID3")) return 0;
  const size = (bytes[at + 6] << 21) | (bytes[at + 7] << 14) | (bytes[at + 8] << 7) |
    bytes[at + 9];
  const footer = bytes[at + 5] & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** Offset just past any ID3v2 tags at the start (there may be several in a row). */
export function skipId3v2(bytes: Uint8Array): number {
  let at = 0;
  for (let n = id3v2Length(bytes, at); n > 0; n = id3v2Length(bytes, at)) at += n;
  return at;
}

/**
 * Offset where the trailing tags begin (ID3v1 "TAG", APEv2 "APETAGEX", Lyrics3v2), or
 * `bytes.length` when the file ends with none.
 *
 * @example
 * ```ts
 * import { trailingTagsStart } from "./tags.ts";
 * const bytes = new Uint8Array(1000);
 * bytes.set([0x54, 0x41, 0x47], 872); // "TAG" 128 bytes from the end
 * trailingTagsStart(bytes); // 872
 * ```
 */
export function trailingTagsStart(bytes: Uint8Array): number {
  let end = bytes.length;
  for (let changed = true; changed;) {
    changed = false;
    if (end >= 128 && ascii(bytes, end - 128, "TAG")) {
      end -= 128;
      changed = true;
    }
    if (end >= 32 && ascii(bytes, end - 32, "APETAGEX")) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const size = view.getUint32(end - 32 + 12, true); // items + footer
      const hasHeader = (view.getUint32(end - 32 + 20, true) & 0x80000000) !== 0;
      const start = end - size - (hasHeader ? 32 : 0);
      if (start >= 0 && size >= 32) {
        end = start;
        changed = true;
      }
    }
    if (end >= 15 && ascii(bytes, end - 9, "LYRICS200")) {
      const size = Number(String.fromCharCode(...bytes.subarray(end - 15, end - 9)));
      const start = end - 15 - size;
      if (Number.isInteger(size) && start >= 0 && ascii(bytes, start, "LYRICSBEGIN")) {
        end = start;
        changed = true;
      }
    }
  }
  return end;
}
