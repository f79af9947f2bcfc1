/**
 * Tests for audio/flac.ts: real FLAC files decode bit-exactly (the encoder's STREAMINFO MD5 of
 * the PCM), stereo 24-bit 44.1 kHz is averaged to mono, and broken files (truncated mid-frame
 * and at a frame boundary, garbage in the middle, mostly garbage, wrong magic, rate 0) are
 * refused or warned about with the file and "FLAC" named, the library printing nothing.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FLACDecoder } from "@wasm-audio-decoders/flac";
import { decodeAudio } from "../../audio/decode.ts";
import { AudioDecodeError } from "../../audio/errors.ts";
import { decodeFlac, scanFlac } from "../../audio/flac.ts";
import { FIXTURE_DIR, garble, rms, withConsoleSpy } from "./fixtures.ts";

const MONO = `${FIXTURE_DIR}librispeech-1447-130550-0000.flac`; // 16 kHz mono 16-bit, whole
const STEREO = `${FIXTURE_DIR}jfk-cut.flac`; // 44.1 kHz stereo 24-bit, 3 frames

async function expectFlacError(bytes: Uint8Array, name: string, pattern: RegExp): Promise<void> {
  await assert.rejects(decodeFlac(bytes, name), (err: unknown) => {
    assert.ok(err instanceof AudioDecodeError, `${name}: ${err}`);
    assert.equal(err.file, name);
    assert.equal(err.format, "flac");
    assert.match(err.message, new RegExp(`^${name.replace(".", "\\.")} \\(FLAC\\): `));
    assert.match(err.reason, pattern);
    return true;
  });
}

/** End of the metadata blocks (each: 1 byte last-flag|type, 3 bytes length, the body). */
function metadataEnd(bytes: Uint8Array): number {
  let at = 4;
  for (let last = false; !last;) {
    last = (bytes[at] & 0x80) !== 0;
    at += 4 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
  }
  return at;
}

/** Offset of the first frame sync after the metadata whose frame number byte is `n` (n < 128). */
function frameStart(bytes: Uint8Array, n: number): number {
  for (let p = metadataEnd(bytes); p + 4 < bytes.length; p++) {
    if (bytes[p] === 0xff && (bytes[p + 1] & 0xfe) === 0xf8 && bytes[p + 4] === n) {
      if (scanFlac(bytes.subarray(0, p)).frameCount === n) return p;
    }
  }
  throw new Error(`frame ${n} not found`);
}

Deno.test("decodeFlac decodes a real LibriSpeech FLAC bit-exactly (its STREAMINFO MD5)", async () => {
  const bytes = await Deno.readFile(MONO);
  const a = await decodeFlac(bytes, MONO);
  assert.equal(a.format, "flac");
  assert.equal(a.sampleRate, 16000);
  assert.equal(a.channelCount, 1);
  assert.deepEqual(a.warnings, []);
  // STREAMINFO: 4 bytes "fLaC", 4 bytes block header, then 34 bytes; sample count in the
  // low 36 bits of bytes 13..17, MD5 of the PCM (interleaved, little-endian) in bytes 18..33
  const si = 8;
  const total = (bytes[si + 13] & 15) * 2 ** 32 +
    new DataView(bytes.buffer).getUint32(si + 14, false);
  assert.equal(a.samples.length, total);
  const pcm = new Int16Array(a.samples.length);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(a.samples[i] * 32768);
  const md5 = createHash("md5").update(new Uint8Array(pcm.buffer)).digest("hex");
  const expected = [...bytes.subarray(si + 18, si + 34)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(md5, expected);
  assert.ok(rms(a.samples) > 0.01);
  const info = scanFlac(bytes, MONO);
  assert.equal(info.durationSeconds, total / 16000);
  assert.equal(info.damagedRegions, 0);
  assert.equal(info.truncation, undefined);
});

Deno.test("decodeFlac averages a 44.1 kHz stereo 24-bit FLAC to mono", async () => {
  const bytes = await Deno.readFile(STEREO);
  const a = await decodeFlac(bytes, STEREO);
  assert.equal(a.sampleRate, 44100);
  assert.equal(a.channelCount, 2);
  assert.equal(a.samples.length, 3 * 4608);
  // reference: the library's own two channels, averaged in float64
  const lib = new FLACDecoder();
  await lib.ready;
  const raw = await lib.decodeFile(bytes);
  lib.free();
  assert.equal(raw.bitDepth, 24);
  const [l, r] = raw.channelData;
  let maxErr = 0;
  for (let i = 0; i < a.samples.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(a.samples[i] - (l[i] + r[i]) / 2));
  }
  assert.ok(maxErr < 1e-7, `max error ${maxErr}`);
  assert.ok(rms(a.samples) > 1e-4);
});

Deno.test("decodeFlac refuses a file cut mid-frame, or decodes its whole frames if allowed", async () => {
  const bytes = await Deno.readFile(MONO);
  const cut = bytes.subarray(0, Math.floor(bytes.length * 0.6));
  await expectFlacError(
    cut,
    "cut.flac",
    /^truncated: the file ends inside the frame at sample \d+ of 26320$/,
  );
  const partial = await decodeFlac(cut, "cut.flac", { allowTruncated: true });
  assert.equal(partial.truncated, true);
  const ratio = partial.samples.length / 26320;
  assert.ok(ratio > 0.4 && ratio < 0.65, `partial/full = ${ratio}`);
});

Deno.test("decodeFlac refuses a file cut at a frame boundary (STREAMINFO promises more)", async () => {
  const bytes = await Deno.readFile(STEREO);
  const cut = bytes.subarray(0, frameStart(bytes, 2));
  await expectFlacError(cut, "two-frames.flac", /^truncated: frames end at sample 9216 of 13824$/);
});

Deno.test("decodeFlac skips frames damaged by garbage with one warning, silently from the library", async () => {
  const bytes = await Deno.readFile(MONO);
  const damaged = garble(bytes, Math.floor(bytes.length / 2), 1024);
  const { result: a, printed } = await withConsoleSpy(() => decodeFlac(damaged, "hole.flac"));
  assert.deepEqual(printed, []);
  assert.equal(a.warnings.length, 1);
  const [w] = a.warnings;
  assert.equal(w.file, "hole.flac");
  assert.equal(w.format, "flac");
  assert.match(w.message, /^1 damaged region skipped, 0 decoder errors; \d+% of the audio lost$/);
  // the frames the garbage touched are gone, the others are all there
  const info = scanFlac(damaged, "hole.flac");
  assert.equal(info.frameCount, scanFlac(bytes).frameCount - 1);
  assert.equal(a.samples.length, info.frameSamples);
  assert.ok(a.samples.length < 26320 && a.samples.length > 26320 * 0.7, `${a.samples.length}`);
});

Deno.test("decodeFlac refuses a file that is mostly garbage", async () => {
  const bytes = await Deno.readFile(MONO);
  const start = metadataEnd(bytes) + 2000; // keeps the first frame or so
  const junk = garble(bytes, start, bytes.length - start);
  await expectFlacError(
    junk,
    "junk.flac",
    /^mostly undecodable: \d+% of the audio lost \(1 damaged region skipped, 0 decoder errors\)$/,
  );
});

Deno.test("FLAC with a wrong magic, no frames, or rate 0 is refused by name", async () => {
  const bytes = await Deno.readFile(MONO);
  const wrong = bytes.slice();
  wrong[3] = 0x58; // "fLaX"
  await expectFlacError(wrong, "wrong.flac", /missing 'fLaC' marker/);
  await assert.rejects(
    decodeAudio(wrong, "wrong.flac"),
    (err: unknown) =>
      err instanceof AudioDecodeError && err.format === undefined &&
      /^unknown audio format \(starts with 'fLaX'/.test(err.reason),
  );
  await expectFlacError(
    bytes.subarray(0, metadataEnd(bytes)),
    "header-only.flac",
    /^truncated: frames end at sample 0 of 26320$/,
  );
  await expectFlacError(bytes.subarray(0, 100), "half-header.flac", /inside its metadata blocks/);
  const zeroRate = bytes.slice();
  zeroRate.fill(0, 18, 20);
  zeroRate[20] &= 0x0f; // the 20-bit rate spans bytes 18, 19 and the top of 20
  await expectFlacError(zeroRate, "zero-rate.flac", /^STREAMINFO says sample rate 0$/);
  await assert.rejects(decodeFlac(new Uint8Array(0), "empty.flac"), /empty\.flac: empty file/);
});
