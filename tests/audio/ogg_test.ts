/**
 * Tests for audio/ogg.ts: a real Ogg Opus and a real Ogg Vorbis file decode to the length their
 * last granule position gives (less the Opus pre-skip), read here straight from the bytes; the
 * codec is found from the first packet whatever the name; broken files (cut mid-page and at a
 * page boundary, garbage in a page, mostly garbage, another codec) are refused or warned about
 * with the file and the format named, the libraries printing nothing.
 */

import assert from "node:assert/strict";
import { decodeAudio, sniffAudioFormat } from "../../audio/decode.ts";
import { AudioDecodeError, type AudioFormat } from "../../audio/errors.ts";
import { decodeOgg, scanOgg } from "../../audio/ogg.ts";
import { FIXTURE_DIR, garble, rms, withConsoleSpy } from "./fixtures.ts";

const OPUS = `${FIXTURE_DIR}fleurs-es-006.opus.ogg`;
const VORBIS = `${FIXTURE_DIR}librispeech-198-209-0000-cut.vorbis.ogg`;

/** Start and end of every page: 27-byte header, segment table, body. */
function pages(bytes: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; at < bytes.length;) {
    let end = at + 27 + bytes[at + 26];
    for (let i = 0; i < bytes[at + 26]; i++) end += bytes[at + 27 + i];
    out.push([at, end]);
    at = end;
  }
  return out;
}

function lastGranule(bytes: Uint8Array): number {
  const [start] = pages(bytes).at(-1)!;
  return Number(new DataView(bytes.buffer, bytes.byteOffset).getBigInt64(start + 6, true));
}

async function expectOggError(
  bytes: Uint8Array,
  name: string,
  format: AudioFormat | undefined,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(decodeAudio(bytes, name), (err: unknown) => {
    assert.ok(err instanceof AudioDecodeError, `${name}: ${err}`);
    assert.equal(err.file, name);
    assert.equal(err.format, format);
    assert.ok(err.message.startsWith(name), err.message);
    assert.match(err.reason, pattern);
    return true;
  });
}

Deno.test("decodeOgg decodes a real Ogg Opus file at 48 kHz to its granule length less pre-skip", async () => {
  const bytes = await Deno.readFile(OPUS);
  const body = 27 + bytes[26]; // first packet: "OpusHead", version, channels, pre-skip (LE16)
  assert.equal(String.fromCharCode(...bytes.subarray(body, body + 8)), "OpusHead");
  const preSkip = bytes[body + 10] | (bytes[body + 11] << 8);
  const { result: a, printed } = await withConsoleSpy(() => decodeOgg(bytes, OPUS));
  assert.deepEqual(printed, []);
  assert.equal(a.format, "ogg-opus");
  assert.equal(a.sampleRate, 48000);
  assert.equal(a.channelCount, 1);
  assert.equal(a.samples.length, lastGranule(bytes) - preSkip);
  assert.deepEqual(a.warnings, []);
  assert.ok(rms(a.samples) > 0.01, `rms ${rms(a.samples)}`);
  const info = scanOgg(bytes, OPUS);
  assert.equal(info.inputSampleRate, 16000);
  assert.equal(info.durationSeconds, a.samples.length / 48000);
});

Deno.test("decodeOgg decodes a real Ogg Vorbis file at its own rate to its granule length", async () => {
  const bytes = await Deno.readFile(VORBIS);
  const body = 27 + bytes[26]; // "\x01vorbis", version (4), channels (1), rate (LE32)
  const rate = new DataView(bytes.buffer).getUint32(body + 12, true);
  assert.equal(rate, 16000);
  const a = await decodeOgg(bytes, VORBIS);
  assert.equal(a.format, "ogg-vorbis");
  assert.equal(a.sampleRate, rate);
  assert.equal(a.samples.length, lastGranule(bytes));
  assert.ok(rms(a.samples) > 0.01, `rms ${rms(a.samples)}`);
  assert.equal(scanOgg(bytes).durationSeconds, lastGranule(bytes) / rate);
});

Deno.test("the Ogg codec is read from the first packet, not from the file name", async () => {
  const opus = await Deno.readFile(OPUS), vorbis = await Deno.readFile(VORBIS);
  assert.equal(sniffAudioFormat(opus), "ogg-opus");
  assert.equal(sniffAudioFormat(vorbis), "ogg-vorbis");
  assert.equal((await decodeAudio(opus, "speech.mp3")).format, "ogg-opus");
  assert.equal((await decodeAudio(vorbis, "speech.opus")).format, "ogg-vorbis");
});

Deno.test("an Ogg file cut mid-page or before its end-of-stream page is refused as truncated", async () => {
  const bytes = await Deno.readFile(OPUS);
  const all = pages(bytes);
  const midPage = bytes.subarray(0, all[all.length - 2][0] + 100);
  await expectOggError(
    midPage,
    "mid.ogg",
    "ogg-opus",
    /^truncated: the file ends inside page \d+$/,
  );
  const boundary = bytes.subarray(0, all[all.length - 1][0]);
  await expectOggError(
    boundary,
    "no-eos.ogg",
    "ogg-opus",
    /^truncated: the stream ends without its last \(end-of-stream\) page$/,
  );
  const partial = await decodeOgg(boundary, "no-eos.ogg", { allowTruncated: true });
  assert.equal(partial.truncated, true);
  const full = await decodeOgg(bytes, "full.ogg");
  assert.ok(partial.samples.length < full.samples.length && partial.samples.length > 0);
});

Deno.test("an Ogg page damaged by garbage is skipped with one warning naming the file", async () => {
  for (const [path, format] of [[OPUS, "ogg-opus"], [VORBIS, "ogg-vorbis"]] as const) {
    const bytes = await Deno.readFile(path);
    const all = pages(bytes);
    const [start, end] = all[all.length - 2]; // an audio page; keep its header and table
    const body = start + 27 + bytes[start + 26];
    const damaged = garble(bytes, body + 10, Math.min(200, end - body - 10));
    const { result: a, printed } = await withConsoleSpy(() => decodeOgg(damaged, "hole.ogg"));
    assert.deepEqual(printed, [], format);
    assert.equal(a.warnings.length, 1, format);
    assert.equal(a.warnings[0].file, "hole.ogg");
    assert.equal(a.warnings[0].format, format);
    assert.match(a.warnings[0].message, /^1 damaged region skipped, \d+ decoder errors?; \d+% of/);
    const full = await decodeOgg(bytes, "full.ogg");
    assert.ok(a.samples.length < full.samples.length, format);
    assert.equal(scanOgg(damaged).pageCount, all.length - 1, format);
  }
});

Deno.test("an Ogg file that is mostly garbage is refused", async () => {
  const bytes = await Deno.readFile(OPUS);
  const all = pages(bytes);
  const junk = garble(bytes, all[2][0] + 30, bytes.length);
  await expectOggError(
    junk,
    "junk.ogg",
    "ogg-opus",
    /^mostly undecodable: \d+% of the audio lost \(1 damaged region skipped, \d+ decoder errors?\)$/,
  );
});

Deno.test("an Ogg stream of another codec or with a damaged first page is refused by name", async () => {
  const bytes = await Deno.readFile(OPUS);
  const speex = bytes.slice();
  speex.set(new TextEncoder().encode("Speex   "), 27 + bytes[26]);
  await expectOggError(speex, "speex.ogg", undefined, /^Ogg stream of codec 'speex'/);
  const firstPage = garble(bytes, 30, 10); // inside the first page's segment table and header
  await assert.rejects(decodeAudio(firstPage, "head.ogg"), /head\.ogg/);
  await expectOggError(bytes.subarray(0, 3), "tiny.ogg", undefined, /^unknown audio format/);
});
