/**
 * Tests for audio/wav.ts: every supported encoding read from hand-built bytes (integer
 * sample values known exactly), round trips through encodeWav, and each header error.
 */

import assert from "node:assert/strict";
import { AudioDecodeError } from "../../audio/errors.ts";
import { decodeWav, encodeWav, readWavInfo, toMono } from "../../audio/wav.ts";

interface RawWav {
  formatTag: number;
  channelCount: number;
  sampleRate: number;
  bitsPerSample: number;
  data: Uint8Array;
  extensible?: boolean;
  /** extra chunks placed between fmt and data */
  extraChunks?: { id: string; body: Uint8Array }[];
  /** override the data chunk's declared size */
  dataSize?: number;
}

/** Builds a WAV byte for byte, independently of encodeWav. */
function buildWav(w: RawWav): Uint8Array {
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v & 0xff, (v >> 8) & 0xff);
  const u32 = (v: number) => parts.push(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24);
  const id = (s: string) => parts.push(...[...s].map((c) => c.charCodeAt(0)));
  const blockAlign = (w.channelCount * w.bitsPerSample) / 8;
  id("RIFF");
  u32(0); // patched below
  id("WAVE");
  id("fmt ");
  u32(w.extensible ? 40 : 16);
  u16(w.extensible ? 0xfffe : w.formatTag);
  u16(w.channelCount);
  u32(w.sampleRate);
  u32(w.sampleRate * blockAlign);
  u16(blockAlign);
  u16(w.bitsPerSample);
  if (w.extensible) {
    u16(22); // cbSize
    u16(w.bitsPerSample); // valid bits
    u32(w.channelCount === 1 ? 4 : 3); // channel mask
    u16(w.formatTag); // SubFormat GUID: tag, then the fixed KSDATAFORMAT tail
    parts.push(0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71);
  }
  for (const chunk of w.extraChunks ?? []) {
    id(chunk.id);
    u32(chunk.body.length);
    parts.push(...chunk.body);
    if (chunk.body.length & 1) parts.push(0);
  }
  id("data");
  u32(w.dataSize ?? w.data.length);
  parts.push(...w.data);
  const out = new Uint8Array(parts);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}

function le(values: number[], bytesPer: number): Uint8Array {
  const out = new Uint8Array(values.length * bytesPer);
  values.forEach((v, i) => {
    for (let b = 0; b < bytesPer; b++) out[i * bytesPer + b] = (v >> (8 * b)) & 0xff;
  });
  return out;
}

Deno.test("decodeWav reads 16-bit PCM mono exactly", () => {
  const ints = [0, 1, -1, 32767, -32768, 12345, -23456];
  const wav = buildWav({
    formatTag: 1,
    channelCount: 1,
    sampleRate: 22050,
    bitsPerSample: 16,
    data: le(ints, 2),
  });
  const { sampleRate, channels } = decodeWav(wav, "a.wav");
  assert.equal(sampleRate, 22050);
  assert.equal(channels.length, 1);
  assert.deepEqual([...channels[0]], ints.map((v) => Math.fround(v / 32768)));
});

Deno.test("decodeWav reads 24-bit PCM stereo (interleaved) and toMono averages", () => {
  const left = [8388607, -8388608, 100000, -3];
  const right = [-8388608, 8388607, -100000, 5];
  const interleaved = left.flatMap((l, i) => [l, right[i]]);
  const wav = buildWav({
    formatTag: 1,
    channelCount: 2,
    sampleRate: 48000,
    bitsPerSample: 24,
    data: le(interleaved, 3),
  });
  const { channels } = decodeWav(wav);
  assert.deepEqual([...channels[0]], left.map((v) => Math.fround(v / 8388608)));
  assert.deepEqual([...channels[1]], right.map((v) => Math.fround(v / 8388608)));
  const mono = toMono(channels);
  for (let i = 0; i < left.length; i++) {
    assert.ok(Math.abs(mono[i] - (left[i] + right[i]) / 2 / 8388608) < 1e-7);
  }
});

Deno.test("decodeWav reads 32-bit and 8-bit PCM", () => {
  const ints = [2147483647, -2147483648, 123456789, -1];
  const c32 = decodeWav(
    buildWav({
      formatTag: 1,
      channelCount: 1,
      sampleRate: 8000,
      bitsPerSample: 32,
      data: le(ints, 4),
    }),
  ).channels[0];
  assert.deepEqual([...c32], ints.map((v) => Math.fround(v / 2147483648)));
  const u8 = [0, 128, 255, 64];
  const c8 = decodeWav(
    buildWav({
      formatTag: 1,
      channelCount: 1,
      sampleRate: 8000,
      bitsPerSample: 8,
      data: new Uint8Array(u8),
    }),
  ).channels[0];
  assert.deepEqual([...c8], u8.map((v) => (v - 128) / 128));
});

Deno.test("decodeWav reads float32 (format 3) and WAVE_FORMAT_EXTENSIBLE float and PCM", () => {
  const values = [0.25, -0.75, 1.5, -1e-6];
  const f32 = new Uint8Array(new Float32Array(values).buffer);
  for (const extensible of [false, true]) {
    const { channels, sampleRate } = decodeWav(
      buildWav({
        formatTag: 3,
        channelCount: 1,
        sampleRate: 44100,
        bitsPerSample: 32,
        data: f32,
        extensible,
      }),
    );
    assert.equal(sampleRate, 44100);
    assert.deepEqual([...channels[0]], values.map(Math.fround));
  }
  const pcm = decodeWav(
    buildWav({
      formatTag: 1,
      channelCount: 2,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: le([16384, -16384], 2),
      extensible: true,
    }),
  );
  assert.deepEqual(pcm.channels.map((c) => c[0]), [0.5, -0.5]);
});

Deno.test("decodeWav skips unknown chunks, including odd-sized ones with a pad byte", () => {
  const wav = buildWav({
    formatTag: 1,
    channelCount: 1,
    sampleRate: 16000,
    bitsPerSample: 16,
    data: le([1000, -1000], 2),
    extraChunks: [{ id: "LIST", body: new Uint8Array([1, 2, 3]) }, {
      id: "fact",
      body: new Uint8Array(4),
    }],
  });
  assert.deepEqual([...decodeWav(wav).channels[0]], [1000 / 32768, -1000 / 32768].map(Math.fround));
});

Deno.test("decodeWav reads the whole frames of a data chunk whose size runs past the file", () => {
  const data = le([1, 2, 3, 4, 5], 2);
  const wav = buildWav({
    formatTag: 1,
    channelCount: 2,
    sampleRate: 16000,
    bitsPerSample: 16,
    data,
    dataSize: 0xffffffff,
  });
  const { channels } = decodeWav(wav);
  assert.equal(channels[0].length, 2); // 5 samples = 2 whole stereo frames + 1 stray sample
  assert.equal(readWavInfo(wav).frameCount, 2);
});

Deno.test("encodeWav → decodeWav round trip: pcm16 within a step, float32 exact", () => {
  const n = 1000;
  const x = Float32Array.from(
    { length: n },
    (_, i) => 0.9 * Math.sin(i * 0.37) * Math.cos(i * 0.011),
  );
  const pcm = decodeWav(encodeWav(x, 16000));
  assert.equal(pcm.sampleRate, 16000);
  assert.equal(pcm.channels[0].length, n);
  // libsndfile's convention: write × 32767, read ÷ 32768, so |error| ≤ (0.5 + |x|) / 32768
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(pcm.channels[0][i] - x[i]) <= (0.5 + Math.abs(x[i])) / 32768 + 1e-9);
  }
  const flt = decodeWav(encodeWav(x, 44100, { format: "float32" }));
  assert.deepEqual(flt.channels[0], x);
  const info = readWavInfo(encodeWav([x, x], 8000));
  assert.deepEqual(info, {
    sampleRate: 8000,
    channelCount: 2,
    frameCount: n,
    durationSeconds: n / 8000,
  });
});

Deno.test("encodeWav clips out-of-range samples and maps NaN to 0 in 16-bit output", () => {
  const out = decodeWav(encodeWav(new Float32Array([1.5, -2, NaN]), 8000)).channels[0];
  assert.deepEqual([...out], [32767 / 32768, -32767 / 32768, 0].map(Math.fround));
});

Deno.test("decodeWav names the problem in a bad header", () => {
  const good = buildWav({
    formatTag: 1,
    channelCount: 1,
    sampleRate: 16000,
    bitsPerSample: 16,
    data: le([1, 2], 2),
  });
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /empty file/],
    ["text", new TextEncoder().encode("hello, not a wav file"), /missing 'RIFF'/],
    [
      "not WAVE",
      (() => {
        const b = good.slice();
        b.set([0x41, 0x56, 0x49, 0x20], 8); // "AVI "
        return b;
      })(),
      /not 'WAVE'/,
    ],
    ["no fmt", good.slice(0, 12), /missing 'fmt '/],
    ["no data", good.slice(0, 36), /missing 'data'/],
    [
      "ADPCM",
      buildWav({
        formatTag: 2,
        channelCount: 1,
        sampleRate: 8000,
        bitsPerSample: 4,
        data: le([0], 1),
      }),
      /unsupported encoding: format tag 2/,
    ],
    [
      "block align",
      (() => {
        const b = good.slice();
        b[32] = 3;
        return b;
      })(),
      /block align 3/,
    ],
    [
      "zero rate",
      (() => {
        const b = good.slice();
        b.fill(0, 24, 28);
        return b;
      })(),
      /sample rate 0/,
    ],
  ];
  for (const [label, bytes, pattern] of cases) {
    assert.throws(() => decodeWav(bytes, `${label}.wav`), (err: unknown) => {
      assert.ok(err instanceof AudioDecodeError, label);
      assert.equal(err.file, `${label}.wav`);
      assert.match(err.message, pattern, label);
      return true;
    });
  }
});
