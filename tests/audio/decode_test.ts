/**
 * Tests for audio/decode.ts and the shared policy in audio/codec.ts: the decoder is chosen by
 * content for every format; non-finite samples are set to zero with one warning naming the file
 * and where (refused when most samples are non-finite); audio shorter than `minSamples` and WAVs
 * with no samples, rate 0 or a cut `data` chunk are refused by name; and every audio file in
 * ../shared/data/speech decodes with no warning, with the file counts and total durations its
 * SOURCES.md lists.
 */

import assert from "node:assert/strict";
import { decodeAudio, loadAudio, probeAudio, sniffAudioFormat } from "../../audio/decode.ts";
import { AudioDecodeError, type AudioDecodeWarning } from "../../audio/errors.ts";
import { encodeWav } from "../../audio/wav.ts";
import {
  FIXTURE_DIR,
  pathExists,
  SAMPLE_DIR,
  SHARED_SPEECH_DIR,
  withConsoleSpy,
} from "./fixtures.ts";

const tone = (n: number) => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i / 7));

const TEMP = await Deno.makeTempDir({ prefix: "decode_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(TEMP, { recursive: true }));

async function tempFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = `${TEMP}/${name}`;
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("sniffAudioFormat tells every format by content", async () => {
  const cases: [string, string][] = [
    [`${FIXTURE_DIR}librispeech-1447-130550-0000.flac`, "flac"],
    [`${FIXTURE_DIR}jfk-cut.flac`, "flac"],
    [`${FIXTURE_DIR}fleurs-es-006.opus.ogg`, "ogg-opus"],
    [`${FIXTURE_DIR}librispeech-198-209-0000-cut.vorbis.ogg`, "ogg-vorbis"],
    [`${SAMPLE_DIR}clips/common_voice_en_90000001.mp3`, "mp3"],
  ];
  for (const [path, format] of cases) {
    const bytes = await Deno.readFile(path);
    assert.equal(sniffAudioFormat(bytes), format, path);
    assert.equal(probeAudio(bytes, path).format, format, path);
    assert.equal((await decodeAudio(bytes, "no-extension")).format, format, path);
  }
  assert.equal(sniffAudioFormat(encodeWav(tone(10), 8000)), "wav");
  // an ID3 tag in front of FLAC (some taggers add one) is still FLAC, not MP3
  const flac = await Deno.readFile(cases[0][0]);
  const id3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 10, ...new Uint8Array(10)]);
  assert.equal(sniffAudioFormat(new Uint8Array([...id3, ...flac])), "flac");
});

Deno.test("non-finite samples are set to 0 with one warning naming the file and where", async () => {
  const x = tone(5000);
  x[100] = NaN;
  x[2000] = Infinity;
  x[2001] = -Infinity;
  const warnings: AudioDecodeWarning[] = [];
  const path = await tempFile("nan.wav", encodeWav(x, 16000, { format: "float32" }));
  const { samples } = await loadAudio(path, { onWarning: (w) => warnings.push(w) });
  assert.equal(samples.length, 5000);
  for (let i = 0; i < x.length; i++) {
    assert.equal(samples[i], Number.isFinite(x[i]) ? x[i] : 0, `sample ${i}`);
  }
  assert.deepEqual(warnings, [{
    file: path,
    format: "wav",
    message: "3 non-finite samples (NaN or ±Inf) set to 0, first at sample 100 (0.006 s)",
  }]);
  // the default prints it once, naming the file
  const { printed } = await withConsoleSpy(() => loadAudio(path));
  assert.deepEqual(printed, [`warning: ${path} (WAV): ${warnings[0].message}`]);
});

Deno.test("a WAV whose samples are mostly non-finite is refused", async () => {
  const x = new Float32Array(100).fill(NaN);
  x[3] = 0.5;
  await assert.rejects(
    decodeAudio(encodeWav(x, 16000, { format: "float32" }), "nans.wav"),
    (err: unknown) =>
      err instanceof AudioDecodeError && err.file === "nans.wav" &&
      err.message === "nans.wav (WAV): mostly non-finite: 99 of 100 samples are NaN or ±Inf, " +
          "first at sample 0 (0.000 s)",
  );
});

Deno.test("loadAudio refuses audio shorter than minSamples, naming the file and the minimum", async () => {
  const path = await tempFile("short.wav", encodeWav(tone(400), 16000));
  await assert.rejects(
    loadAudio(path, { sampleRate: 16000, minSamples: 513 }),
    (err: unknown) =>
      err instanceof AudioDecodeError &&
      err.message === `${path} (WAV): too short: 400 samples (0.025 s) at 16000 Hz; ` +
          "at least 513 (0.032 s) are needed",
  );
  // the minimum applies at the requested rate: 1000 samples at 48 kHz are ⌈1000 / 3⌉ at 16 kHz
  const path48 = await tempFile("short48.wav", encodeWav(tone(1000), 48000));
  await assert.rejects(loadAudio(path48, { sampleRate: 16000, minSamples: 513 }), /: 334 samples/);
  assert.equal((await loadAudio(path48, { minSamples: 513 })).samples.length, 1000);
});

Deno.test("WAVs with no samples, rate 0 or a cut data chunk are refused by name", async () => {
  const empty = encodeWav(new Float32Array(0), 16000);
  await assert.rejects(
    decodeAudio(empty, "empty.wav"),
    /^AudioDecodeError: empty\.wav \(WAV\): no audio: the file holds 0 samples$/,
  );
  const zeroRate = encodeWav(tone(5000), 16000);
  zeroRate.fill(0, 24, 28);
  await assert.rejects(
    decodeAudio(zeroRate, "zero.wav"),
    /zero\.wav \(WAV\): header says sample rate 0/,
  );
  const whole = encodeWav(tone(5000), 16000);
  const cut = whole.subarray(0, 44 + 6000);
  await assert.rejects(
    decodeAudio(cut, "cut.wav"),
    /cut\.wav \(WAV\): truncated: 'data' chunk holds 6000 of 10000 bytes/,
  );
  assert.equal(
    probeAudio(cut, "cut.wav").truncation,
    "truncated: 'data' chunk holds 6000 of 10000 bytes",
  );
  const partial = await decodeAudio(cut, "cut.wav", { allowTruncated: true });
  assert.equal(partial.samples.length, 3000);
  assert.equal(partial.truncated, true);
});

/** Per-folder file counts and total seconds from the table at the top of SOURCES.md. */
function sourcesTable(markdown: string): Map<string, { files: number; seconds: number }> {
  const out = new Map<string, { files: number; seconds: number }>();
  for (const line of markdown.split("\n")) {
    const m = line.match(/^\| `([^`]+)\/` \| (\d+)[^|]*\| ([\d.]+) s \|/);
    if (m) out.set(m[1], { files: Number(m[2]), seconds: Number(m[3]) });
  }
  return out;
}

function* audioFiles(dir: string): Generator<string> {
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* audioFiles(path);
    else if (/\.(wav|mp3|flac|ogg)$/i.test(e.name)) yield path;
  }
}

Deno.test("every audio file in ../shared/data/speech decodes, as SOURCES.md counts and times them", async () => {
  if (!(await pathExists(`${SHARED_SPEECH_DIR}SOURCES.md`))) {
    console.warn(`skip: ${SHARED_SPEECH_DIR} not found`);
    return;
  }
  const listed = sourcesTable(await Deno.readTextFile(`${SHARED_SPEECH_DIR}SOURCES.md`));
  assert.ok(listed.size >= 14, `${listed.size} folders in SOURCES.md`);
  for (const [folder, { files, seconds }] of listed) {
    let count = 0, total = 0, mp3 = 0;
    for (const path of audioFiles(SHARED_SPEECH_DIR + folder)) {
      const a = await decodeAudio(await Deno.readFile(path), path);
      assert.deepEqual(a.warnings, [], path);
      count++;
      total += a.samples.length / a.sampleRate;
      if (a.format === "mp3") mp3++;
    }
    assert.equal(count, files, folder);
    // soxi counts MP3 decoder delay and padding (~0.15 s a file) that the LAME tag removes
    const tolerance = 0.05 + 0.2 * mp3;
    assert.ok(Math.abs(total - seconds) <= tolerance, `${folder}: ${total} s, listed ${seconds} s`);
  }
});
