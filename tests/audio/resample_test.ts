/**
 * Tests for audio/resample.ts: tone level kept in the passband (±0.1 dB), tones above the
 * new Nyquist suppressed (≥ 60 dB), agreement with an ideal resampled sinusoid and with a
 * plain float64 evaluation of the same windowed-sinc sum, lengths and argument errors; the
 * streaming resampler gives the offline output in any chunking.
 */

import assert from "node:assert/strict";
import { resample, StreamResampler } from "../../audio/resample.ts";
import { concatSamples } from "../../audio/samples.ts";
import { randomArray } from "../util.ts";

function tone(frequency: number, sampleRate: number, seconds: number): Float32Array {
  return Float32Array.from(
    { length: Math.round(sampleRate * seconds) },
    (_, i) => Math.sin((2 * Math.PI * frequency * i) / sampleRate),
  );
}

/** RMS level in dB relative to a full-scale sine, away from the edges (filter ramp-up). */
function levelDb(x: Float32Array, margin: number): number {
  let s = 0;
  for (let i = margin; i < x.length - margin; i++) s += x[i] * x[i];
  return 20 * Math.log10(Math.sqrt(s / (x.length - 2 * margin)) / Math.SQRT1_2);
}

const RATES = [32000, 48000, 44100, 22050];

Deno.test("resample keeps a 1 kHz tone's level within 0.1 dB (→ 16 kHz)", () => {
  for (const rate of RATES) {
    const y = resample(tone(1000, rate, 0.5), rate, 16000);
    const db = levelDb(y, 1000);
    assert.ok(Math.abs(db) < 0.1, `${rate} → 16000: ${db.toFixed(4)} dB`);
  }
  const up = resample(tone(1000, 16000, 0.5), 16000, 48000);
  assert.ok(Math.abs(levelDb(up, 3000)) < 0.1, "16000 → 48000");
});

Deno.test("resample suppresses tones above the new Nyquist by at least 60 dB", () => {
  for (const [rate, frequency] of [[48000, 9000], [44100, 9000], [32000, 9000], [48000, 12000]]) {
    const y = resample(tone(frequency, rate, 0.5), rate, 16000);
    const db = levelDb(y, 1000);
    assert.ok(db < -60, `${frequency} Hz at ${rate} → 16000: ${db.toFixed(1)} dB`);
  }
});

Deno.test("resample matches the ideal sinusoid at the output instants", () => {
  for (const rate of RATES) {
    const frequency = 1234.5;
    const y = resample(tone(frequency, rate, 0.25), rate, 16000);
    let worst = 0;
    for (let n = 800; n < y.length - 800; n++) {
      worst = Math.max(worst, Math.abs(y[n] - Math.sin((2 * Math.PI * frequency * n) / 16000)));
    }
    assert.ok(worst < 1e-3, `${rate}: max error ${worst}`);
  }
});

/**
 * The resampler written out plainly: for each output instant t = n·from/to (input samples),
 * sum x[j]·h(t − j) over all j, with a Kaiser-windowed sinc whose cutoff is 0.945 of the
 * lower Nyquist, 32 zero crossings each side, β = 12 (the module's defaults).
 */
function referenceResample(x: Float32Array, from: number, to: number): Float64Array {
  const i0 = (v: number) => {
    let sum = 1, term = 1;
    for (let k = 1; k < 300; k++) {
      term *= (v / (2 * k)) ** 2;
      sum += term;
    }
    return sum;
  };
  const cutoff = 0.5 * 0.945 * Math.min(1, to / from); // cycles per input sample
  const half = 32 / (2 * cutoff);
  const out = new Float64Array(Math.ceil((x.length * to) / from));
  for (let n = 0; n < out.length; n++) {
    const t = (n * from) / to;
    let acc = 0;
    for (let j = Math.max(0, Math.ceil(t - half)); j <= Math.min(x.length - 1, t + half); j++) {
      const d = t - j;
      const r = d / half;
      if (Math.abs(r) >= 1) continue;
      const arg = 2 * cutoff * d;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      acc += x[j] * 2 * cutoff * sinc * i0(12 * Math.sqrt(1 - r * r)) / i0(12);
    }
    out[n] = acc;
  }
  return out;
}

Deno.test("resample agrees with a float64 reference on random input (including edges)", () => {
  let seed = 12345;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  // 44101 → 16000 has 16000 phases: exercises the path without a precomputed table
  for (
    const [from, to] of [[48000, 16000], [44100, 16000], [22050, 16000], [16000, 22050], [
      44101,
      16000,
    ]]
  ) {
    const x = Float32Array.from({ length: 777 }, random);
    const got = resample(x, from, to);
    const want = referenceResample(x, from, to);
    assert.equal(got.length, want.length, `${from} → ${to} length`);
    let num = 0, den = 0;
    for (let i = 0; i < want.length; i++) {
      num += (got[i] - want[i]) ** 2;
      den += want[i] ** 2;
    }
    const rel = Math.sqrt(num / den);
    assert.ok(rel < 1e-6, `${from} → ${to}: relative error ${rel}`);
  }
});

Deno.test("resample output length is ceil(n · to / from); same rate copies", () => {
  assert.equal(resample(new Float32Array(32000), 32000, 16000).length, 16000);
  assert.equal(resample(new Float32Array(44100), 44100, 16000).length, 16000);
  assert.equal(resample(new Float32Array(1001), 48000, 16000).length, 334);
  assert.equal(resample(new Float32Array(0), 48000, 16000).length, 0);
  const x = new Float32Array([0.1, -0.2, 0.3]);
  const same = resample(x, 16000, 16000);
  assert.deepEqual(same, x);
  assert.notEqual(same, x); // a copy, not the caller's array
});

Deno.test("resample rejects non-integer or non-positive rates", () => {
  assert.throws(() => resample(new Float32Array(4), 0, 16000), RangeError);
  assert.throws(() => resample(new Float32Array(4), 44100.5, 16000), RangeError);
  assert.throws(() => resample(new Float32Array(4), 48000, -1), RangeError);
});

Deno.test("StreamResampler matches offline resampling away from the ends, in any chunking", () => {
  for (const [from, to] of [[48000, 16000], [44100, 16000], [16000, 16000], [8000, 16000]]) {
    // a tone, then broadband noise (content up to the input's Nyquist)
    const noise = Float32Array.from(randomArray(from / 2, 7, -0.05, 0.05));
    const x = concatSamples([tone(140, from, 1), noise]);
    const ref = resample(x, from, to);
    const rs = new StreamResampler(from, to);
    const parts: Float32Array[] = [];
    for (let i = 0; i < x.length; i += 1234) parts.push(rs.push(x.subarray(i, i + 1234)));
    parts.push(rs.flush());
    const y = concatSamples(parts);
    assert.equal(y.length, ref.length, `${from}→${to} length`);
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - ref[i]));
    assert.ok(err < 1e-5, `${from}→${to}: max error ${err}`);
  }
});
