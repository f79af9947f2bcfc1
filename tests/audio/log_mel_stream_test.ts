/**
 * Tests for audio/log_mel_stream.ts: a signal fed in pieces of any size gives, chunk by chunk,
 * the log-mel frames of the whole signal analysed at once — the first and last frames (reflect
 * padding) and the frames on chunk edges included — for lengths on and off the hop grid; a
 * signal too short for a centred STFT is refused; logMelBatch (prepare's featurizer) takes a
 * signal longer than a chunk alone, through the stream, with the same frames.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { frameCount, LogMel, logMelBatch } from "../../audio/features.ts";
import { DEFAULT_CHUNK_FRAMES, streamLogMel } from "../../audio/log_mel_stream.ts";
import { concatSamples } from "../../audio/samples.ts";
import { randomArray, rng, setup } from "../util.ts";

await setup();

/** `signal` cut into pieces of random sizes (1 … 3·maxPiece samples). */
function* pieces(signal: Float32Array, seed: number, maxPiece: number): Generator<Float32Array> {
  const r = rng(seed);
  for (let at = 0; at < signal.length;) {
    const n = 1 + Math.floor(r() * 3 * maxPiece);
    yield signal.slice(at, at + n);
    at += n;
  }
}

Deno.test("streamLogMel: chunks of frames equal the whole signal's frames", async () => {
  const logMel = new LogMel({ nFft: 256, hop: 64, nMels: 24 });
  try {
    for (const n of [129, 64 * 50, 64 * 50 + 1, 64 * 50 + 63, 7001]) {
      const signal = Float32Array.from(randomArray(n, n, -0.5, 0.5));
      const whole = await ag.tidy(() => logMel.logMelFrames(ag.tensor(signal, [1, n])).toArray());
      for (const chunkFrames of [1, 7, 64]) {
        const chunks = await Array.fromAsync(
          streamLogMel(logMel, pieces(signal, n + chunkFrames, 97), chunkFrames),
        );
        const got = concatSamples(chunks);
        assert.equal(got.length / 24, frameCount(n, logMel.config), `n ${n}: frame count`);
        assert.ok(chunks.slice(0, -1).every((c) => c.length === chunkFrames * 24));
        let worst = 0, where = -1;
        for (let i = 0; i < got.length; i++) {
          const d = Math.abs(got[i] - whole[i]);
          if (!(d <= worst)) [worst, where] = [Number.isNaN(d) ? Infinity : d, i];
        }
        assert.ok(
          worst <= 1e-4,
          `n ${n}, chunks of ${chunkFrames}: frame ${Math.floor(where / 24)} off by ${worst}`,
        );
      }
    }
    await assert.rejects(
      Array.fromAsync(streamLogMel(logMel, [new Float32Array(128)])),
      /128 samples are too few for a centred STFT of nFft 256/,
    );
  } finally {
    logMel.dispose();
  }
});

Deno.test("logMelBatch analyses a signal longer than a chunk alone, with the same frames", async () => {
  const logMel = new LogMel({ nFft: 256, hop: 64, nMels: 24 });
  try {
    const lengths = [3000, DEFAULT_CHUNK_FRAMES * 64 + 5000, 700];
    const signals = lengths.map((n, i) => Float32Array.from(randomArray(n, 40 + i, -0.5, 0.5)));
    const batch = await logMelBatch(logMel, signals);
    for (const [i, s] of signals.entries()) {
      const alone = await ag.tidy(() => logMel.logMelFrames(ag.tensor(s, [1, s.length])).toArray());
      assert.equal(batch[i].length, alone.length, `signal ${i}: frames`);
      let worst = 0;
      for (let k = 0; k < alone.length; k++) {
        worst = Math.max(worst, Math.abs(batch[i][k] - alone[k]));
      }
      assert.ok(worst <= 1e-4, `signal ${i} (${s.length} samples) differs by ${worst}`);
    }
  } finally {
    logMel.dispose();
  }
});
