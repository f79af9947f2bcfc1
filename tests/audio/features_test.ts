import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { centerPad, DEFAULT_FEATURES, frameCount, LogMel } from "../../audio/features.ts";
import { melFilterbank } from "../../audio/mel.ts";
import { assertClose, randomArray, setup } from "../util.ts";

/** Plain float64 log-mel: reflect pad, periodic Hann, O(n²) DFT, power, filterbank, log. */
function referenceLogMel(
  signal: Float64Array,
  nFft: number,
  hop: number,
  nMels: number,
  sr: number,
  scale: { htk: boolean; norm: "slaney" | null },
) {
  const p = nFft / 2;
  const n = signal.length;
  const padded = new Float64Array(n + 2 * p);
  for (let i = 0; i < padded.length; i++) {
    let j = i - p;
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
    padded[i] = signal[j];
  }
  const frames = 1 + Math.floor((padded.length - nFft) / hop);
  const nBins = nFft / 2 + 1;
  const fb = melFilterbank({ sampleRate: sr, nFft, nMels, fMax: sr / 2, ...scale });
  const out = new Float64Array(frames * nMels);
  const power = new Float64Array(nBins);
  for (let f = 0; f < frames; f++) {
    for (let k = 0; k < nBins; k++) {
      let re = 0, im = 0;
      for (let t = 0; t < nFft; t++) {
        const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * t) / nFft);
        const v = padded[f * hop + t] * w;
        re += v * Math.cos((2 * Math.PI * k * t) / nFft);
        im -= v * Math.sin((2 * Math.PI * k * t) / nFft);
      }
      power[k] = re * re + im * im;
    }
    for (let m = 0; m < nMels; m++) {
      let s = 0;
      for (let k = 0; k < nBins; k++) s += fb[m * nBins + k] * power[k];
      out[f * nMels + m] = Math.log(s + 1e-5);
    }
  }
  return { out, frames };
}

Deno.test("log-mel of a known signal matches a float64 reference (HTK peak-1 and Slaney bands)", async () => {
  await setup();
  const sr = 16000, nFft = 512, hop = 128, nMels = 40;
  const n = 3001;
  const noise = randomArray(n, 5, -0.05, 0.05);
  const signal = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    signal[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / sr) +
      0.2 * Math.sin((2 * Math.PI * 3100 * i) / sr) +
      noise[i];
  }
  const x64 = Float64Array.from(Float32Array.from(signal));
  // The default (TARGETS.md's analysis: HTK scale, unit peaks), then librosa's Slaney bands.
  const cases = [
    { config: {}, htk: true, norm: null },
    { config: { htk: false, norm: "slaney" as const }, htk: false, norm: "slaney" as const },
  ];
  for (const { config, htk, norm } of cases) {
    const logMel = new LogMel({ sampleRate: sr, nFft, hop, nMels, fMax: sr / 2, ...config });
    const ref = referenceLogMel(x64, nFft, hop, nMels, sr, { htk, norm });
    await ag.tidy(async () => {
      const x = ag.tensor(Float32Array.from(signal), [1, n]);
      const frames = logMel.logMelFrames(x);
      assert.deepEqual(frames.shape, [1, ref.frames, nMels]);
      assert.equal(ref.frames, frameCount(n, logMel.config));
      assertClose(await frames.toArray(), ref.out, 1e-4, `log-mel frames (htk ${htk}, ${norm})`);
      const chFirst = logMel.forward(x);
      assert.deepEqual(chFirst.shape, [1, nMels, ref.frames]);
    });
    logMel.dispose();
  }
});

Deno.test("clips of different lengths batched with centerPad give their solo features", async () => {
  await setup();
  const logMel = new LogMel();
  const { nFft, nMels } = DEFAULT_FEATURES;
  const a = Float32Array.from(randomArray(5000, 1));
  const b = Float32Array.from(randomArray(9100, 2));
  await ag.tidy(async () => {
    const solo = async (s: Float32Array) =>
      await logMel.logMelFrames(ag.tensor(s, [1, s.length])).toArray();
    const pa = centerPad(a, nFft), pb = centerPad(b, nFft);
    const batch = new Float32Array(2 * pb.length);
    batch.set(pa, 0);
    batch.set(pb, pb.length);
    const both = logMel.logMelFrames(ag.tensor(batch, [2, pb.length]), false);
    const values = await both.toArray();
    const frames = both.shape[1];
    const fa = frameCount(a.length), fb = frameCount(b.length);
    assertClose(values.subarray(0, fa * nMels), await solo(a), 1e-5, "clip a in a batch");
    assertClose(
      values.subarray(frames * nMels, frames * nMels + fb * nMels),
      await solo(b),
      1e-5,
      "clip b in a batch",
    );
  });
  logMel.dispose();
});

Deno.test("centerPad reflects without repeating the edge sample", () => {
  const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...centerPad(x, 4)], [3, 2, 1, 2, 3, 4, 5, 6, 5, 4]);
  assert.throws(() => centerPad(Float32Array.from([1, 2]), 8), /too few/);
});

Deno.test("melPower stays differentiable: its gradient equals the dense stft composition's", async () => {
  await setup();
  const cfg = { sampleRate: 8000, nFft: 64, hop: 16, nMels: 8, fMax: 4000 };
  const logMel = new LogMel(cfg);
  const fb = melFilterbank({ ...cfg, htk: DEFAULT_FEATURES.htk, norm: DEFAULT_FEATURES.norm });
  await ag.tidy(async () => {
    const data = Float32Array.from(randomArray(2 * 300, 9));
    const w = ag.tensor(Float32Array.from(randomArray(2 * 19 * 8, 4)), [2, 19, 8]);
    const x1 = ag.tensor(data, [2, 300], { requiresGrad: true });
    logMel.melPower(x1).mul(w).sum().backward();
    const x2 = ag.tensor(data, [2, 300], { requiresGrad: true });
    const power = ag.stft(x2, { nFft: 64, hop: 16 }).square().sum(-1);
    const dense = power.matmul(ag.tensor(Float32Array.from(fb), [8, 33]).transpose(0, 1));
    dense.mul(w).sum().backward();
    assertClose(await x1.grad!.toArray(), await x2.grad!.toArray(), 1e-4, "melPower gradient");
    x1.grad!.dispose();
    x2.grad!.dispose();
  });
  logMel.dispose();
});
