/**
 * Tests for audio/wav_file.ts and decode.ts's openAudioStream: the streaming writer gives the
 * bytes encodeWav gives, appears only when closed (no temp file left, an aborted write leaves
 * the old file), and names its destination when it fails; a WAV read in blocks gives the samples
 * loadAudio gives (stereo float at 44.1 kHz resampled to 16 kHz), repairs a non-finite sample
 * with a warning naming the file, refuses a mostly non-finite one at its end, and a too short or
 * truncated one before reading any block; listen's FileSource reads a WAV that way too.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { FileSource } from "../../audio/capture.ts";
import { loadAudio, openAudioStream } from "../../audio/decode.ts";
import { AudioDecodeError } from "../../audio/errors.ts";
import { concatSamples } from "../../audio/samples.ts";
import { encodeWav } from "../../audio/wav.ts";
import { maxWavSeconds, readWavFileLayout, WavFileWriter } from "../../audio/wav_file.ts";
import { WriteFileError } from "../../io/atomic_file.ts";
import { randomArray } from "../util.ts";

const tmp = await Deno.makeTempDir({ prefix: "wav-file-" });

Deno.test("WavFileWriter writes what encodeWav writes, whole or not at all", async () => {
  const samples = Float32Array.from(randomArray(12345, 1, -1.2, 1.2)); // some clip
  const path = nodePath.join(tmp, "streamed.wav");
  const w = await WavFileWriter.open(path, 22050);
  for (let at = 0; at < samples.length; at += 1000) await w.write(samples.subarray(at, at + 1000));
  assert.ok(!(await Deno.stat(path).catch(() => null)), "the WAV appeared before close");
  await w.close();
  assert.deepEqual(await Deno.readFile(path), encodeWav(samples, 22050));
  const odd = nodePath.join(tmp, "odd.wav"); // an odd data size is padded, as encodeWav pads it
  const o = await WavFileWriter.open(odd, 8000);
  await o.write(new Float32Array([0.5]));
  await o.close();
  assert.deepEqual(await Deno.readFile(odd), encodeWav(new Float32Array([0.5]), 8000));
  // An aborted write leaves the old file as it was, and no temp file.
  const a = await WavFileWriter.open(path, 22050);
  await a.write(new Float32Array(100));
  await a.abort();
  assert.deepEqual(await Deno.readFile(path), encodeWav(samples, 22050));
  assert.deepEqual(
    [...Deno.readDirSync(tmp)].map((e) => e.name).filter((n) => n.endsWith(".tmp")),
    [],
  );
  // A destination that cannot be written is named, not its temp file.
  const gone = nodePath.join(tmp, "no-such-folder", "x.wav");
  await assert.rejects(WavFileWriter.open(gone, 16000), (e: unknown) => {
    assert.ok(e instanceof WriteFileError, String(e));
    assert.match(e.message, new RegExp(`^cannot write ${gone}: `));
    assert.doesNotMatch(e.message, /\.tmp/);
    return true;
  });
  assert.equal(Math.floor(maxWavSeconds(16000)), 134217);
});

/** A stereo float32 WAV at 44.1 kHz of `seconds`, with `nan` samples of its left channel NaN. */
async function stereoWav(name: string, seconds: number, nan: (i: number) => boolean) {
  const n = Math.round(seconds * 44100);
  const left = Float32Array.from(randomArray(n, 2, -0.5, 0.5));
  const right = Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i / 7));
  for (let i = 0; i < n; i++) if (nan(i)) left[i] = NaN;
  const path = nodePath.join(tmp, name);
  await Deno.writeFile(path, encodeWav([left, right], 44100, { format: "float32" }));
  return path;
}

Deno.test("openAudioStream reads a WAV in blocks as loadAudio reads it whole", async () => {
  const path = await stereoWav("stereo.wav", 2.5, (i) => i === 30000);
  const warnings: string[] = [];
  const onWarning = (w: { message: string; file: string }) =>
    warnings.push(`${w.file}: ${w.message}`);
  const whole = await loadAudio(path, { sampleRate: 16000, onWarning });
  const stream = await openAudioStream(path, { sampleRate: 16000, onWarning });
  assert.equal(stream.length, whole.samples.length);
  const blocks = await Array.fromAsync(stream.blocks());
  assert.ok(blocks.length > 2, `${blocks.length} blocks`);
  const got = concatSamples(blocks);
  assert.equal(got.length, whole.samples.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - whole.samples[i]));
  assert.ok(worst <= 1e-6, `blocks differ from the whole by ${worst}`);
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.equal(warnings[1], warnings[0], "the stream's warning differs from loadAudio's");
  assert.match(warnings[1], /stereo\.wav: 1 non-finite sample \(NaN or ±Inf\) set to 0/);
});

Deno.test("openAudioStream refuses bad WAVs by name: short and truncated at once, NaN at the end", async () => {
  const short = nodePath.join(tmp, "short.wav");
  await Deno.writeFile(short, encodeWav(new Float32Array(400), 16000));
  await assert.rejects(
    openAudioStream(short, { sampleRate: 16000, minSamples: 513 }),
    /short\.wav \(WAV\): too short: 400 samples/,
  );
  const full = encodeWav(new Float32Array(16000), 16000);
  const cut = nodePath.join(tmp, "cut.wav");
  await Deno.writeFile(cut, full.subarray(0, 10000));
  await assert.rejects(openAudioStream(cut), /cut\.wav \(WAV\): truncated: 'data' chunk holds/);
  assert.equal((await readWavFileLayout(cut)).dataBytes, 10000 - 44);
  const nan = await stereoWav("mostly-nan.wav", 1, (i) => i % 3 !== 0);
  const stream = await openAudioStream(nan, { sampleRate: 16000 });
  await assert.rejects(
    Array.fromAsync(stream.blocks()),
    /mostly-nan\.wav \(WAV\): mostly non-finite: \d+ of 44100 samples/,
  );
});

Deno.test("FileSource (listen --input) hands a WAV out in 0.1 s pieces read from disk in blocks", async () => {
  const path = await stereoWav("listen.wav", 2.3, () => false);
  const whole = await loadAudio(path);
  const source = await FileSource.open(path);
  assert.equal(source.rate, 44100);
  const pieces: Float32Array[] = [];
  for (let p = await source.read(); p !== null; p = await source.read()) pieces.push(p);
  await source.close();
  assert.ok(pieces.every((p) => p.length <= 4410) && pieces.length >= 23, `${pieces.length}`);
  assert.deepEqual(concatSamples(pieces), whole.samples);
  // Damage past the start is thrown by read, naming the file.
  const nan = await FileSource.open(await stereoWav("listen-nan.wav", 1, (i) => i % 3 !== 0));
  await assert.rejects(
    (async () => {
      while (await nan.read() !== null) { /* read on */ }
    })(),
    (e: unknown) => e instanceof AudioDecodeError && /listen-nan\.wav/.test(e.message),
  );
});

Deno.test("cleanup", async () => {
  await Deno.remove(tmp, { recursive: true });
});
