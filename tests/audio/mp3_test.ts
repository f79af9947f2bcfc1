/**
 * Tests for audio/mp3.ts and audio/decode.ts: decoding the committed sample corpus and real
 * Common Voice clips (rate read, never assumed; duration against clip_durations.tsv), each
 * broken input (empty, text named .mp3, ID3 only, truncated mid-frame and at a frame
 * boundary) failing with a typed error that names the file, and damaged files (garbage in the
 * middle: one warning with the counts; mostly garbage: refused), mpg123 printing nothing.
 */

import assert from "node:assert/strict";
import {
  decodeAudio,
  decodeAudioFile,
  loadAudio,
  probeAudio,
  sniffAudioFormat,
} from "../../audio/decode.ts";
import { AudioDecodeError } from "../../audio/errors.ts";
import { decodeMp3, scanMp3 } from "../../audio/mp3.ts";
import { encodeWav } from "../../audio/wav.ts";
import {
  garble,
  pathExists,
  readDurationTable,
  REAL_CV_DIR,
  rms,
  SAMPLE_DIR,
  silentMp3,
  withConsoleSpy,
} from "./fixtures.ts";

async function expectDecodeError(
  bytes: Uint8Array,
  name: string,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(decodeMp3(bytes, name), (err: unknown) => {
    assert.ok(err instanceof AudioDecodeError, `${name}: ${err}`);
    assert.equal(err.file, name);
    assert.match(err.reason, pattern);
    assert.ok(err.message.startsWith(name), err.message);
    return true;
  });
}

const SAMPLE_CLIP = `${SAMPLE_DIR}clips/common_voice_en_90000001.mp3`; // speaker 1: 48 kHz
const SAMPLE_CLIP_32K = `${SAMPLE_DIR}clips/common_voice_en_90000002.mp3`; // speaker 2: 32 kHz

Deno.test("decodeMp3 decodes the sample corpus at each clip's own rate and listed duration", async () => {
  const durations = await readDurationTable(SAMPLE_DIR);
  const rates = new Set<number>();
  for (const n of [1, 2, 3, 4, 17, 60]) {
    const name = `common_voice_en_${90000000 + n}.mp3`;
    const bytes = await Deno.readFile(`${SAMPLE_DIR}clips/${name}`);
    const a = await decodeMp3(bytes, name);
    rates.add(a.sampleRate);
    assert.equal(a.channelCount, 1);
    assert.equal(a.truncated, false);
    const seconds = a.samples.length / a.sampleRate;
    // clip_durations.tsv comes from espeak's 22050 Hz WAV; LAME's gapless tag keeps length
    assert.ok(Math.abs(seconds - durations.get(name)!) < 0.03, `${name}: ${seconds}`);
    assert.ok(rms(a.samples) > 0.01, `${name} is silent`);
    assert.ok(Math.abs(scanMp3(bytes).durationSeconds - seconds) < 1e-9);
  }
  assert.deepEqual([...rates].sort(), [32000, 48000]);
});

Deno.test("decodeMp3 of silent frames gives exact silence of frames × 1152 samples", async () => {
  for (const rate of [32000, 44100, 48000] as const) {
    const a = await decodeMp3(silentMp3(7, rate), "silence.mp3");
    assert.equal(a.sampleRate, rate);
    assert.equal(a.samples.length, 7 * 1152);
    assert.equal(rms(a.samples), 0);
  }
});

Deno.test("decodeMp3 rejects a zero-byte file", async () => {
  await expectDecodeError(new Uint8Array(0), "empty.mp3", /^empty file$/);
});

Deno.test("decodeMp3 rejects a text file named .mp3", async () => {
  const text = new TextEncoder().encode("This is a transcript, not audio.\n".repeat(40));
  await expectDecodeError(text, "notes.mp3", /no MPEG audio frames/);
});

Deno.test("decodeMp3 rejects an ID3 tag with no audio after it", async () => {
  const bytes = await Deno.readFile(SAMPLE_CLIP);
  const id3Size = 10 + ((bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) | bytes[9]);
  assert.equal(String.fromCharCode(...bytes.subarray(0, 3)), "ID3");
  await expectDecodeError(bytes.subarray(0, id3Size), "tag-only.mp3", /only an ID3 tag/);
});

Deno.test("decodeMp3 rejects a file truncated mid-frame, or decodes its whole frames if allowed", async () => {
  const bytes = await Deno.readFile(SAMPLE_CLIP_32K);
  const full = await decodeMp3(bytes, "full.mp3");
  const cut = bytes.subarray(0, Math.floor(bytes.length * 0.6) + 1);
  await expectDecodeError(cut, "cut.mp3", /^truncated: last frame has \d+ of \d+ bytes$/);
  const partial = await decodeMp3(cut, "cut.mp3", { allowTruncated: true });
  assert.equal(partial.truncated, true);
  assert.equal(partial.sampleRate, 32000);
  const ratio = partial.samples.length / full.samples.length;
  assert.ok(ratio > 0.45 && ratio < 0.65, `partial/full = ${ratio}`);
});

Deno.test("decodeMp3 detects truncation at a frame boundary through the Xing/Info frame count", async () => {
  const bytes = await Deno.readFile(SAMPLE_CLIP);
  const info = scanMp3(bytes);
  const frameLength = 192; // 48 kHz, 64 kbit/s, no padding: 144 * 64000 / 48000
  const cut = bytes.subarray(0, bytes.length - 5 * frameLength);
  assert.equal(scanMp3(cut).frameCount, info.frameCount - 5);
  await expectDecodeError(
    cut,
    "short.mp3",
    new RegExp(`^truncated: ${info.frameCount - 5} of ${info.frameCount} frames present$`),
  );
});

Deno.test("decodeAudio picks the decoder by magic bytes, not by name", async () => {
  const tone = Float32Array.from({ length: 800 }, (_, i) => 0.5 * Math.sin(i / 5));
  const wav = encodeWav(tone, 8000);
  assert.equal(sniffAudioFormat(wav), "wav");
  assert.equal(sniffAudioFormat(await Deno.readFile(SAMPLE_CLIP)), "mp3");
  assert.equal(sniffAudioFormat(silentMp3(2)), "mp3"); // bare frame sync, no ID3
  assert.equal(sniffAudioFormat(new TextEncoder().encode("RIFF but no")), undefined);

  const dir = await Deno.makeTempDir({ prefix: "decode_test_" });
  try {
    await Deno.writeFile(`${dir}/actually-wav.mp3`, wav);
    const a = await decodeAudioFile(`${dir}/actually-wav.mp3`);
    assert.equal(a.sampleRate, 8000);
    assert.equal(a.samples.length, 800);
    await Deno.writeFile(`${dir}/blank.wav`, new Uint8Array(0));
    await assert.rejects(decodeAudioFile(`${dir}/blank.wav`), /blank\.wav: empty file/);
    await assert.rejects(
      decodeAudio(new TextEncoder().encode("plain text"), "x.ogg"),
      (err: unknown) => err instanceof AudioDecodeError && /unknown audio format/.test(err.reason),
    );
    assert.deepEqual(probeAudio(wav, "w.wav"), {
      format: "wav",
      sampleRate: 8000,
      durationSeconds: 0.1,
      truncation: undefined,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadAudio resamples to the requested rate, like librosa.load", async () => {
  const native = await decodeAudioFile(SAMPLE_CLIP);
  const { samples, sampleRate } = await loadAudio(SAMPLE_CLIP, { sampleRate: 16000 });
  assert.equal(sampleRate, 16000);
  assert.equal(samples.length, Math.ceil(native.samples.length / 3));
  // level is kept: speech energy sits well below 8 kHz
  const ratio = rms(samples) / rms(native.samples);
  assert.ok(ratio > 0.9 && ratio < 1.05, `rms ratio ${ratio}`);
});

Deno.test("decodeMp3 decodes real Common Voice clips at 32 kHz with their listed durations", async () => {
  if (!(await pathExists(`${REAL_CV_DIR}clips`))) {
    console.warn(`skip: real Common Voice clips not found at ${REAL_CV_DIR}`);
    return;
  }
  const hasDurations = await pathExists(`${REAL_CV_DIR}clip_durations.tsv`);
  const durations = hasDurations ? await readDurationTable(REAL_CV_DIR) : undefined;
  const names = [...Deno.readDirSync(`${REAL_CV_DIR}clips`)].map((e) => e.name).sort().slice(0, 6);
  assert.ok(names.length > 0);
  for (const name of names) {
    const a = await decodeAudioFile(`${REAL_CV_DIR}clips/${name}`);
    assert.equal(a.sampleRate, 32000, name);
    const seconds = a.samples.length / a.sampleRate;
    assert.ok(seconds > 1 && seconds < 15, `${name}: ${seconds} s`);
    if (durations?.has(name)) {
      assert.ok(Math.abs(seconds - durations.get(name)!) < 0.05, `${name}: ${seconds} s`);
    }
    assert.ok(rms(a.samples) > 0.001, `${name} is silent`);
  }
});

Deno.test("scanMp3 ends the stream at a trailing ID3v1 tag without calling it truncated", async () => {
  const bytes = await Deno.readFile(SAMPLE_CLIP);
  const tag = new Uint8Array(128);
  tag.set([0x54, 0x41, 0x47]); // "TAG"
  const tagged = new Uint8Array([...bytes, ...tag]);
  const a = scanMp3(bytes), b = scanMp3(tagged);
  assert.equal(b.truncation, undefined);
  assert.equal(b.frameCount, a.frameCount);
  assert.equal(b.durationSeconds, a.durationSeconds);
  assert.equal((await decodeMp3(tagged, "tagged.mp3")).samples.length, a.durationSeconds * 48000);
});

const LONGEST_CLIP = `${SAMPLE_DIR}clips/common_voice_en_90000033.mp3`; // 24 KB, 48 kHz

Deno.test("decodeMp3 skips 4 KB of garbage in the middle with one warning, mpg123 printing nothing", async () => {
  const bytes = await Deno.readFile(LONGEST_CLIP);
  const full = await decodeMp3(bytes, "full.mp3");
  const at = Math.floor(bytes.length / 2) - 2048;
  const damaged = garble(bytes, at, 4096);
  const { result: a, printed } = await withConsoleSpy(() => decodeMp3(damaged, "hole.mp3"));
  assert.deepEqual(printed, []); // was several "mpg123-decoder: -1 MPG123_ERR" lines
  assert.equal(a.warnings.length, 1);
  assert.equal(a.warnings[0].file, "hole.mp3");
  assert.equal(a.warnings[0].format, "mp3");
  const lost = 4096 / bytes.length; // about: the ID3 tag is small
  const m = a.warnings[0].message.match(
    /^1 damaged region skipped, (\d+) decoder errors?; (\d+)% of the audio lost$/,
  );
  assert.ok(m, a.warnings[0].message);
  assert.ok(Math.abs(Number(m[2]) / 100 - lost) < 0.03, `${m[2]}% vs ${lost}`);
  // what is left is the frames outside the garbage: about (1 − lost) of the clip
  const ratio = a.samples.length / full.samples.length;
  assert.ok(Math.abs(ratio - (1 - lost)) < 0.05, `kept ${ratio}`);
  const info = scanMp3(damaged, "hole.mp3");
  assert.equal(info.damagedRegions, 1);
  // whole frames the garbage covers, give or take the frames it starts and ends in (192 bytes)
  assert.ok(Math.abs(info.damagedBytes - 4096) < 2 * 193, `${info.damagedBytes}`);
});

Deno.test("decodeMp3 refuses a file that is 98 % garbage, naming it", async () => {
  const bytes = await Deno.readFile(LONGEST_CLIP);
  const keep = Math.floor(bytes.length * 0.02);
  const { printed } = await withConsoleSpy(() =>
    expectDecodeError(
      garble(bytes, keep, bytes.length),
      "junk.mp3",
      /^mostly undecodable: 9\d% of the audio lost \(1 damaged region skipped, 0 decoder errors\)$/,
    )
  );
  assert.deepEqual(printed, []);
});

Deno.test("decodeMp3: a trailing APEv2 tag is no damage, trailing junk is", async () => {
  const bytes = await Deno.readFile(SAMPLE_CLIP);
  const ape = new Uint8Array(32 + 20);
  const footer = 20; // items (20 bytes of zeros here) then the 32-byte footer
  ape.set(new TextEncoder().encode("APETAGEX"), footer);
  new DataView(ape.buffer).setUint32(footer + 12, 52, true); // size: items + footer
  const tagged = new Uint8Array([...bytes, ...ape]);
  assert.equal(scanMp3(tagged).damagedRegions, 0);
  assert.deepEqual((await decodeMp3(tagged, "ape.mp3")).warnings, []);
  const junk = new Uint8Array([...bytes, ...new TextEncoder().encode("x".repeat(300))]);
  const a = await decodeMp3(junk, "tail.mp3");
  assert.equal(a.warnings.length, 1);
  assert.match(a.warnings[0].message, /^1 damaged region skipped/);
});
