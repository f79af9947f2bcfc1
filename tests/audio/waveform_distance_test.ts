import assert from "node:assert/strict";
import { melFilterbank } from "../../audio/mel.ts";
import { ReferenceAnalyser, waveformDistance } from "../../audio/waveform_distance.ts";
import { rng } from "../util.ts";

/** A voiced-like test signal: two partials with a slow envelope, plus a little noise. */
function testSignal(n: number, seed: number): Float64Array {
  const rand = rng(seed);
  return Float64Array.from({ length: n }, (_, i) => {
    const env = 0.5 + 0.5 * Math.sin((2 * Math.PI * i) / 5000);
    return env * (0.4 * Math.sin(i * 0.071) + 0.2 * Math.sin(i * 0.53)) + 0.01 * (rand() - 0.5);
  });
}

Deno.test("reference analysis matches a plain float64 DFT with HTK unit-peak bands", () => {
  const cfg = { nFft: 64, hop: 16, nMels: 10, sampleRate: 8000, fMax: 4000 };
  const analyser = new ReferenceAnalyser(cfg);
  const n = 301; // odd, not a multiple of the hop
  const x = testSignal(n, 3);
  const { frames, power, mel } = analyser.spectra(x);
  assert.equal(frames, 1 + Math.floor(n / 16));
  const nBins = 33;
  const fb = melFilterbank({ ...cfg, fMin: 0, htk: true, norm: null });
  let maxRel = 0;
  for (let f = 0; f < frames; f++) {
    const p = new Float64Array(nBins);
    for (let k = 0; k < nBins; k++) {
      let re = 0, im = 0;
      for (let t = 0; t < 64; t++) {
        let j = f * 16 - 32 + t; // centred, reflect padding
        if (j < 0) j = -j;
        if (j >= n) j = 2 * (n - 1) - j;
        const v = x[j] * (0.5 - 0.5 * Math.cos((2 * Math.PI * t) / 64));
        re += v * Math.cos((2 * Math.PI * k * t) / 64);
        im -= v * Math.sin((2 * Math.PI * k * t) / 64);
      }
      p[k] = re * re + im * im;
      maxRel = Math.max(maxRel, Math.abs(power[f * nBins + k] - p[k]) / (p[k] + 1e-12));
    }
    for (let m = 0; m < 10; m++) {
      let s = 0;
      for (let k = 0; k < nBins; k++) s += fb[m * nBins + k] * p[k];
      maxRel = Math.max(maxRel, Math.abs(mel[f * 10 + m] - s) / (s + 1e-12));
    }
  }
  assert.ok(maxRel < 1e-9, `relative error ${maxRel}`);
});

Deno.test("waveformDistance: 0 for identical signals, 6.02 dB for half the amplitude", () => {
  const x = testSignal(16000, 1);
  const same = waveformDistance(x, x);
  assert.equal(same.melLsd, 0);
  assert.equal(same.lsd, 0);
  assert.equal(same.lag, 0);
  const half = waveformDistance(x, x.map((v) => 0.5 * v));
  // 20·log10 2 wherever both sit above the floor (a few quiet bands of the reference do not).
  assert.ok(Math.abs(half.melLsd - 20 * Math.log10(2)) < 0.01, `mel-LSD ${half.melLsd}`);
  // Linear bins between the partials are mostly noise below the floor: less, never more.
  assert.ok(half.lsd > 5 && half.lsd <= 20 * Math.log10(2) + 1e-9, `LSD ${half.lsd}`);
  assert.equal(half.lag, 0);
});

Deno.test("waveformDistance aligns a delayed output by the lag that minimises the distance", () => {
  const x = testSignal(20000, 2);
  for (const delay of [300, -1234, 7]) {
    // output[t + delay] = x[t]: the system's output lags (or leads) the input.
    const out = new Float64Array(x.length);
    for (let t = 0; t < x.length; t++) {
      if (t + delay >= 0 && t + delay < x.length) out[t + delay] = x[t];
    }
    const d = waveformDistance(x, out);
    assert.equal(d.lag, delay);
    // Only the frames cut off at one end differ; unaligned, every frame would.
    const unaligned = waveformDistance(x, out, { maxLag: 0 });
    assert.ok(
      d.melLsd < unaligned.melLsd / 2,
      `delay ${delay}: ${d.melLsd} vs ${unaligned.melLsd}`,
    );
  }
});

Deno.test("the relative floor counts a filled-in pause that an absolute 1e-5 floor hides", () => {
  const n = 24000;
  const x = testSignal(n, 4).map((v, i) => (i > 8000 && i < 16000 ? 0 : v * 0.01)); // quiet clip
  const noise = rng(5);
  const hiss = x.map((v, i) => v + (i > 8000 && i < 16000 ? 1e-3 * (noise() - 0.5) : 0));
  const d = waveformDistance(x, hiss);
  // The pause is ~1/3 of the frames, and the hiss sits ~35 dB above 1e-8 of the peak there.
  assert.ok(d.melLsd > 8, `a filled pause should count: mel-LSD ${d.melLsd}`);
  // A floor 50 dB higher (−30 dB) hides most of it.
  const high = waveformDistance(x, hiss, { relativeFloor: 1e-3 });
  assert.ok(high.melLsd < d.melLsd / 3, `a higher floor hides more: ${high.melLsd} vs ${d.melLsd}`);
});
