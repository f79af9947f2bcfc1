import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { fftVariantTest } from "./fft_variants.ts";
import { checkOp, randomArray, setup } from "../util.ts";

/** Plain float64 |STFT|²: optional reflect pad, window, O(n²) DFT per frame, re² + im². */
function refPower(
  x: Float64Array,
  t: number,
  nFft: number,
  hop: number,
  center: boolean,
  hann: boolean,
): Float64Array {
  const out: number[] = [];
  for (let r = 0; r < x.length / t; r++) {
    const row = x.subarray(r * t, (r + 1) * t);
    const p = center ? nFft / 2 : 0;
    const padded = Float64Array.from({ length: t + 2 * p }, (_, i) => {
      const j = i - p;
      return row[j < 0 ? -j : j >= t ? 2 * (t - 1) - j : j];
    });
    const frames = 1 + Math.floor((padded.length - nFft) / hop);
    for (let f = 0; f < frames; f++) {
      for (let k = 0; k <= nFft / 2; k++) {
        let re = 0, im = 0;
        for (let j = 0; j < nFft; j++) {
          const w = hann ? 0.5 - 0.5 * Math.cos((2 * Math.PI * j) / nFft) : 1;
          const th = (2 * Math.PI * ((j * k) % nFft)) / nFft;
          re += padded[f * hop + j] * w * Math.cos(th);
          im -= padded[f * hop + j] * w * Math.sin(th);
        }
        out.push(re * re + im * im);
      }
    }
  }
  return Float64Array.from(out);
}

fftVariantTest("stftPower matches a float64 |STFT|² and stft().square().sum(-1)", async () => {
  await setup();
  const cases: [number, number, number, number, boolean][] = [
    // nFft, hop, rows, samples, center
    [1024, 256, 2, 4000, true],
    [64, 16, 3, 1000, false],
    [128, 37, 2, 901, true], // odd hop: frames start at odd samples
    [2, 1, 1, 9, false],
  ];
  for (const [nFft, hop, rows, t, center] of cases) {
    await ag.tidy(async () => {
      const data = Float32Array.from(randomArray(rows * t, nFft + hop));
      const x = ag.tensor(data, [rows, t]);
      const power = ag.stftPower(x, { nFft, hop, center });
      const ref = refPower(Float64Array.from(data), t, nFft, hop, center, true);
      const frames = 1 + Math.floor((t + (center ? nFft : 0) - nFft) / hop);
      assert.deepEqual(power.shape, [rows, frames, nFft / 2 + 1]);
      const got = await power.toArray();
      let err = 0, norm = 0;
      for (let i = 0; i < ref.length; i++) {
        err = Math.max(err, Math.abs(got[i] - ref[i]));
        norm = Math.max(norm, Math.abs(ref[i]));
      }
      assert.ok(err / norm < 1e-5, `stftPower nFft=${nFft} hop=${hop}: rel err ${err / norm}`);
      const composed = await ag.stft(x, { nFft, hop, center }).square().sum(-1).toArray();
      for (let i = 0; i < ref.length; i++) {
        assert.ok(Math.abs(got[i] - composed[i]) <= 1e-5 * norm, `bin ${i} vs stft composition`);
      }
    });
  }
});

fftVariantTest("stftPower with a rectangular window", async () => {
  await setup();
  await ag.tidy(async () => {
    const data = Float32Array.from(randomArray(700, 3));
    const power = ag.stftPower(ag.tensor(data, [700]), {
      nFft: 64,
      hop: 20,
      window: "rectangular",
      center: false,
    });
    const ref = refPower(Float64Array.from(data), 700, 64, 20, false, false);
    const got = await power.toArray();
    const norm = Math.max(...ref);
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-5 * norm);
  });
});

fftVariantTest("stftPower is deterministic across calls", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.tensor(Float32Array.from(randomArray(2 * 5000, 11)), [2, 5000]);
    const a = await ag.stftPower(x, { nFft: 1024, hop: 256 }).toArray();
    const b = await ag.stftPower(x, { nFft: 1024, hop: 256 }).toArray();
    assert.deepEqual(a, b);
  });
});

fftVariantTest("stftPower gradient matches finite differences", async () => {
  await setup();
  for (const [nFft, hop, t, center] of [[16, 4, 40, true], [32, 12, 70, false]] as const) {
    await checkOp(
      `stftPower nFft=${nFft}`,
      [{ data: randomArray(2 * t, nFft), shape: [2, t] }],
      (x) => ag.stftPower(x, { nFft, hop, center }),
      (x) => refPower(x, t, nFft, hop, center, true),
      { forwardTol: 1e-5, gradTol: 1e-3, eps: 1e-4 },
    );
  }
});

Deno.test("stftPower refuses unsupported sizes and short signals", async () => {
  await setup();
  ag.tidy(() => {
    const x = ag.zeros([100]);
    assert.throws(() => ag.stftPower(x, { nFft: 48, hop: 12 }), /power of two/);
    assert.throws(() => ag.stftPower(x, { nFft: 128, hop: 32, center: false }), /shorter/);
  });
});
