import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { loadAudio } from "../../audio/decode.ts";
import { DEFAULT_FEATURES, LogMel } from "../../audio/features.ts";
import { melFilterbank } from "../../audio/mel.ts";
import { melCepstralDistortion, melLsd, spectralConvergence } from "../../audio/metrics.ts";
import { griffinLim, melPseudoInverse, melToAudio, melToLinear } from "../../audio/vocoder.ts";
import { encodeWav } from "../../audio/wav.ts";
import { assertClose, randomArray, setup } from "../util.ts";
import { pathExists, REAL_CV_DIR, SAMPLE_DIR } from "./fixtures.ts";

const SAMPLE_RATE = 16000;
const CLIP_SECONDS = 3;
const REAL_CLIPS = 3;
const { nFft, hop, nMels } = DEFAULT_FEATURES;
const nBins = nFft / 2 + 1;

/** The loudest `seconds` of a signal (windows stepped by 0.25 s), so a clip's silences are cut. */
function loudestWindow(samples: Float32Array, seconds: number): Float32Array {
  const n = Math.round(seconds * SAMPLE_RATE);
  if (samples.length <= n) return samples;
  const step = SAMPLE_RATE / 4;
  let best = 0, bestEnergy = -1;
  for (let start = 0; start + n <= samples.length; start += step) {
    let e = 0;
    for (let i = start; i < start + n; i++) e += samples[i] * samples[i];
    if (e > bestEnergy) [best, bestEnergy] = [start, e];
  }
  return samples.slice(best, best + n);
}

/** A few speech clips: real Common Voice ones from ../shared, else the bundled sample. */
async function speechClips(): Promise<{ name: string; samples: Float32Array }[]> {
  let dir = `${REAL_CV_DIR}clips/`;
  let count = REAL_CLIPS;
  if (!(await pathExists(dir))) {
    console.log(`vocoder test: ${dir} is absent; using the bundled sample clips instead`);
    dir = `${SAMPLE_DIR}clips/`;
    count = 2;
  }
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".mp3")) names.push(e.name);
  names.sort();
  const clips = [];
  for (const name of names.slice(0, count)) {
    const { samples } = await loadAudio(dir + name, { sampleRate: SAMPLE_RATE });
    clips.push({ name, samples: loudestWindow(samples, CLIP_SECONDS) });
  }
  return clips;
}

let clipsPromise: ReturnType<typeof speechClips> | undefined;
const clips = () => clipsPromise ??= speechClips();

function magnitudeOf(signal: ag.Tensor): ag.Tensor {
  return ag.stft(signal, { nFft, hop }).square().sum(-1).sqrt();
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

Deno.test("melPseudoInverse: filterbank · pinv = I on the mel space, minimum-norm least squares", () => {
  for (const cfg of [{}, { htk: true, norm: null }, { nFft: 512, nMels: 40 }] as const) {
    const c = { ...DEFAULT_FEATURES, ...cfg };
    const fb = melFilterbank(c);
    const pinv = melPseudoInverse(c);
    const bins = c.nFft / 2 + 1;
    assert.equal(pinv.length, bins * c.nMels);
    let worst = 0;
    for (let i = 0; i < c.nMels; i++) {
      for (let j = 0; j < c.nMels; j++) {
        let s = 0;
        for (let k = 0; k < bins; k++) s += fb[i * bins + k] * pinv[k * c.nMels + j];
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    assert.ok(worst < 1e-4, `${JSON.stringify(cfg)}: max |M·pinv − I| = ${worst}`);
    // For a random positive spectrum p: M·(pinv·M·p) = M·p, and pinv·M·p is no longer than p.
    const p = randomArray(bins, 7, 0, 1);
    const mel = new Float64Array(c.nMels);
    for (let m = 0; m < c.nMels; m++) {
      for (let k = 0; k < bins; k++) mel[m] += fb[m * bins + k] * p[k];
    }
    const q = new Float64Array(bins);
    for (let k = 0; k < bins; k++) {
      for (let m = 0; m < c.nMels; m++) q[k] += pinv[k * c.nMels + m] * mel[m];
    }
    const melQ = new Float64Array(c.nMels);
    for (let m = 0; m < c.nMels; m++) {
      for (let k = 0; k < bins; k++) melQ[m] += fb[m * bins + k] * q[k];
    }
    assertClose(melQ, mel, 1e-6, `${JSON.stringify(cfg)}: mel of the reconstruction`);
    const norm = (v: Float64Array) => Math.hypot(...v);
    assert.ok(norm(q) <= norm(p) * (1 + 1e-9), `minimum norm: ${norm(q)} > ${norm(p)}`);
  }
});

Deno.test("melToLinear: √max(pinv · max(exp(L) − floor, 0), 0) against a float64 reference", async () => {
  await setup();
  const batch = 2, frames = 5;
  const logMel64 = randomArray(batch * frames * nMels, 3, Math.log(1e-6), Math.log(10));
  const logMel32 = Float32Array.from(logMel64);
  const pinv = melPseudoInverse();
  const ref = new Float64Array(batch * frames * nBins);
  let clamped = 0;
  for (let r = 0; r < batch * frames; r++) {
    const melPower = Array.from(
      { length: nMels },
      (_, m) => Math.max(Math.exp(logMel32[r * nMels + m]) - DEFAULT_FEATURES.logFloor, 0),
    );
    for (let k = 0; k < nBins; k++) {
      let s = 0;
      for (let m = 0; m < nMels; m++) s += pinv[k * nMels + m] * melPower[m];
      if (s < 0) clamped++;
      ref[r * nBins + k] = Math.sqrt(Math.max(s, 0));
    }
  }
  assert.ok(clamped > 0, "random mel spectra should need the clamp somewhere");
  await ag.tidy(async () => {
    const out = melToLinear(ag.tensor(logMel32, [batch, frames, nMels]), DEFAULT_FEATURES);
    assert.deepEqual(out.shape, [batch, frames, nBins]);
    assertClose(await out.toArray(), ref, 1e-4, "melToLinear");
    assert.throws(
      () => melToLinear(ag.zeros([batch, nMels, frames])),
      /is not \[batch, frames, 80\].*transpose/,
    );
  });
});

Deno.test("griffinLim: shape, length, seeded, memory flat over iterations", async () => {
  await setup();
  await ag.tidy(async () => {
    const length = 4000;
    const x = ag.randn([2, length], { seed: 5 });
    const mag = ag.stft(x, { nFft: 256, hop: 64 }).square().sum(-1).sqrt();
    const run = (iterations: number, seed = 1) => {
      const before = ag.counters().buffersInUse;
      const y = griffinLim(mag, { nFft: 256, hop: 64, iterations, length, seed });
      const after = ag.counters().buffersInUse;
      return { y, held: after - before };
    };
    const a = run(2), b = run(12), c = run(2), d = run(2, 2);
    assert.deepEqual(a.y.shape, [2, length]);
    assert.equal(a.held, 1, "only the output stays allocated after 2 iterations");
    assert.equal(b.held, 1, "only the output stays allocated after 12 iterations");
    assert.deepEqual(await a.y.toArray(), await c.y.toArray(), "same seed, same audio");
    assert.notDeepEqual(await a.y.toArray(), await d.y.toArray(), "another seed, other audio");
    // Default length: what the frames cover, (frames − 1) · hop.
    const frames = mag.shape[1];
    assert.deepEqual(griffinLim(mag, { nFft: 256, hop: 64, iterations: 1 }).shape, [
      2,
      (frames - 1) * 64,
    ]);
    assert.throws(() => griffinLim(mag, { nFft: 256, hop: 64, length: 100 }), /give \d+ frames/);
    assert.throws(() => griffinLim(mag, { nFft: 512, hop: 64 }), /not \[batch, frames, 257\]/);
  });
});

Deno.test("griffinLim on real speech: spectral convergence < 0.15 after 32 fast iterations", async () => {
  await setup();
  const scs: number[] = [];
  for (const { name, samples } of await clips()) {
    await ag.tidy(async () => {
      const x = ag.tensor(samples, [1, samples.length]);
      const mag = magnitudeOf(x);
      const y = griffinLim(mag, {
        nFft,
        hop,
        iterations: 32,
        momentum: 0.99,
        length: samples.length,
      });
      assert.deepEqual(y.shape, [1, samples.length]);
      const sc = spectralConvergence(await mag.toArray(), await magnitudeOf(y).toArray());
      console.log(
        `  ${name} (${(samples.length / SAMPLE_RATE).toFixed(1)} s): spectral convergence ${
          sc.toFixed(4)
        }`,
      );
      assert.ok(sc < 0.15, `${name}: spectral convergence ${sc} >= 0.15`);
      if (scs.length === 0) {
        // The momentum is what makes 32 iterations enough: plain Griffin-Lim lags behind.
        const plain = griffinLim(mag, { nFft, hop, momentum: 0, length: samples.length });
        const scPlain = spectralConvergence(
          await mag.toArray(),
          await magnitudeOf(plain).toArray(),
        );
        console.log(`  ${name}: plain Griffin-Lim (momentum 0) ${scPlain.toFixed(4)}`);
        assert.ok(sc < scPlain, `fast ${sc} is no better than plain ${scPlain}`);
      }
      scs.push(sc);
    });
  }
  console.log(`  mean spectral convergence over ${scs.length} clips: ${mean(scs).toFixed(4)}`);
});

Deno.test("melToAudio on real speech: log-mel → pseudo-inverse → 32 Griffin-Lim iterations → WAV", async () => {
  await setup();
  const logMel = new LogMel();
  const lsds: number[] = [], mcds: number[] = [];
  try {
    for (const { name, samples } of await clips()) {
      await ag.tidy(async () => {
        const x = ag.tensor(samples, [1, samples.length]);
        const features = logMel.logMelFrames(x);
        const y = melToAudio(features, logMel.config, { iterations: 32, length: samples.length });
        assert.deepEqual(y.shape, [1, samples.length]);
        const audio = await y.toArray();
        assert.ok(audio.every(Number.isFinite), `${name}: non-finite samples`);
        assert.equal(encodeWav(audio, SAMPLE_RATE).length, 44 + 2 * samples.length);
        const refMel = await logMel.melPower(x).toArray();
        const estMel = await logMel.melPower(y).toArray();
        const d = melLsd(refMel, estMel, nMels);
        const mcd = melCepstralDistortion(
          await features.toArray(),
          await logMel.logMelFrames(y).toArray(),
          nMels,
        );
        console.log(`  ${name}: mel-LSD ${d.toFixed(3)} dB, MCD ${mcd.toFixed(3)} dB`);
        assert.ok(d < 6, `${name}: mel-LSD ${d} dB >= 6`);
        lsds.push(d);
        mcds.push(mcd);
      });
    }
  } finally {
    logMel.dispose();
  }
  console.log(
    `  mean over ${lsds.length} clips: mel-LSD ${mean(lsds).toFixed(3)} dB, ` +
      `MCD ${mean(mcds).toFixed(3)} dB (TARGETS: 3.9 dB mel-LSD, 64 iterations, 99 whole clips)`,
  );
});
