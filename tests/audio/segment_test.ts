/**
 * Long-file segmentation (audio/segment.ts): segments are contiguous, cover the whole file, are
 * at most the maximum long and as few as that allows (a 127 s file in 15 s segments: 9); each
 * cut lands in the pause nearest its even position when there is one in reach; a file no longer
 * than the maximum stays whole. On the real 127 s radio address when ../shared is there.
 */
import assert from "node:assert/strict";
import { loadAudio } from "../../audio/decode.ts";
import { segmentBounds } from "../../audio/segment.ts";
import { rng } from "../util.ts";
import { pathExists, SHARED_SPEECH_DIR } from "./fixtures.ts";

const RATE = 16000;

/** Noise-like "speech" of `seconds`, with silent pauses of 0.3 s starting at `pauses` (s). */
function speechWithPauses(seconds: number, pauses: number[]): Float32Array {
  const r = rng(7);
  const x = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < x.length; i++) x[i] = (r() - 0.5) * (0.5 + 0.5 * Math.sin(i / 900));
  for (const p of pauses) x.fill(0, Math.round(p * RATE), Math.round((p + 0.3) * RATE));
  return x;
}

function checkCover(bounds: { start: number; end: number }[], length: number, maxSeconds: number) {
  assert.equal(bounds[0].start, 0);
  assert.equal(bounds.at(-1)!.end, length);
  for (let k = 0; k < bounds.length; k++) {
    if (k > 0) assert.equal(bounds[k].start, bounds[k - 1].end, `gap or overlap at segment ${k}`);
    const n = bounds[k].end - bounds[k].start;
    assert.ok(n > 0 && n <= maxSeconds * RATE, `segment ${k} has ${n} samples`);
  }
}

Deno.test("segments cover the file, none longer than the maximum, as few as possible", () => {
  for (const seconds of [15, 15.001, 29.9, 30.5, 127.4, 301]) {
    const x = speechWithPauses(seconds, []);
    const bounds = segmentBounds(x, RATE, { maxSeconds: 15 });
    assert.equal(bounds.length, Math.ceil(x.length / (15 * RATE)), `${seconds} s`);
    checkCover(bounds, x.length, 15);
  }
  assert.equal(segmentBounds(new Float32Array(127 * RATE), RATE, { maxSeconds: 15 }).length, 9);
  // Short files stay whole.
  assert.deepEqual(segmentBounds(new Float32Array(100), RATE, { maxSeconds: 15 }), [
    { start: 0, end: 100 },
  ]);
});

Deno.test("the cuts land in pauses within reach, chosen together so none is forced mid-word", () => {
  // 40 s → 3 segments, even cuts at 13.33 s and 26.67 s. Pauses (0.3 s) at 12.5 and 14.4 s near
  // the first, 28.0 s near the second, decoys at 9 and 31 s out of the 2 s reach. Taking the
  // pause nearest the first even position (12.5) would leave the second (28.0) out of a 15 s
  // segment's reach; together, 14.4 and 28.0 keep every segment within 15 s.
  const pauses = [12.5, 14.4, 28.0, 9.0, 31.0];
  const x = speechWithPauses(40, pauses);
  const bounds = segmentBounds(x, RATE, { maxSeconds: 15 });
  assert.equal(bounds.length, 3);
  checkCover(bounds, x.length, 15);
  const cuts = bounds.slice(1).map((b) => b.start / RATE);
  assert.ok(cuts[0] > 14.4 && cuts[0] < 14.7, `first cut at ${cuts[0]} s, want the 14.4 s pause`);
  assert.ok(cuts[1] > 28.0 && cuts[1] < 28.3, `second cut at ${cuts[1]} s, want the 28.0 s pause`);
  for (const b of bounds.slice(1)) assert.equal(x[b.start], 0, "cut on a sound");
  // Without pauses, cuts stay within reach of their even positions.
  const plain = segmentBounds(speechWithPauses(40, []), RATE, { maxSeconds: 15 });
  plain.slice(1).forEach((b, k) => {
    const even = ((k + 1) * 40) / 3;
    assert.ok(Math.abs(b.start / RATE - even) <= 2, `cut ${k} at ${b.start / RATE} s`);
  });
});

Deno.test("the real 127 s radio address: 9 segments covering it, cut in its quietest moments", async () => {
  const path = `${SHARED_SPEECH_DIR}gwbush-radio-2008-11-01/gb0.wav`;
  if (!(await pathExists(path))) {
    console.warn(`skip: ${path} is absent`);
    return;
  }
  const { samples } = await loadAudio(path, { sampleRate: RATE });
  const bounds = segmentBounds(samples, RATE, { maxSeconds: 15 });
  assert.equal(bounds.length, 9);
  checkCover(bounds, samples.length, 15);
  // Each cut's 20 ms frame is quieter than 80 % of the file's 20 ms frames (a pause).
  const frame = 320;
  const energy = (at: number) => {
    let s = 0;
    for (let i = at; i < Math.min(at + frame, samples.length); i++) s += samples[i] ** 2;
    return s;
  };
  const all: number[] = [];
  for (let i = 0; i + frame <= samples.length; i += frame) all.push(energy(i));
  all.sort((a, b) => a - b);
  const p20 = all[Math.floor(all.length * 0.2)];
  for (const b of bounds.slice(1)) {
    const e = energy(b.start - frame / 2);
    assert.ok(
      e <= p20,
      `cut at ${(b.start / RATE).toFixed(2)} s: energy ${e} > 20th percentile ${p20}`,
    );
  }
});
