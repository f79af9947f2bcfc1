/**
 * Tests for vae/windows.ts: a long clip run through the model in windows (cores with
 * `contextFrames` of context) gives the whole-clip reconstruction, seams included, for three
 * architectures (the default depth, a deeper one with a wider edge kernel, one with residual
 * blocks); without context
 * the seams differ (the comparison has teeth); eval of a clip longer than one core agrees with a
 * single-window pass; vae/sampling.ts's streams: a reconstruction of frames arriving in pieces
 * equals the whole clip's, and a prior sample does not depend on the core size.
 */
import assert from "node:assert/strict";
import * as ag from "../../engine/mod.ts";
import { DEFAULT_MODEL, type ModelConfig } from "../../vae/config.ts";
import type { MelClip } from "../../vae/data.ts";
import { MelVae } from "../../vae/model.ts";
import { evaluateClips, reconstructClip } from "../../vae/trainer.ts";
import {
  priorLatentSteps,
  samplePrior,
  streamPrior,
  streamReconstruction,
} from "../../vae/sampling.ts";
import { concatSamples } from "../../audio/samples.ts";
import { contextFrames, forEachCore, modelReachFrames, modelWindows } from "../../vae/windows.ts";
import { randomArray, setup } from "../util.ts";

await setup();

/** A speech-like random log-mel clip: a smooth random walk per band around −4. */
function randomClip(frames: number, nMels: number, seed: number): MelClip {
  const noise = randomArray(frames * nMels, seed);
  const mel = new Float32Array(frames * nMels);
  for (let m = 0; m < nMels; m++) {
    let v = -4;
    for (let f = 0; f < frames; f++) {
      v = 0.9 * v + 0.1 * -4 + 0.8 * noise[f * nMels + m];
      mel[f * nMels + m] = v;
    }
  }
  return { name: `random-${seed}`, frames, mel };
}

/** The model's reconstruction (z = μ), normalised, time-major, with cores of `coreFrames`. */
async function reconstruct(
  model: MelVae,
  clip: MelClip,
  coreFrames: number,
  context?: number,
): Promise<Float32Array> {
  const nMels = model.config.features.nMels;
  const out = new Float32Array(model.wholeLatentFrames(clip.frames) * nMels);
  const use = async ({ xHat }: { xHat: ag.Tensor }, w: { start: number }) => {
    out.set(await xHat.transpose(1, 2).toArray(), w.start * nMels);
  };
  if (context === undefined) await forEachCore(model, clip, use, coreFrames);
  else {
    // The same windows with another context (to show what too little context does).
    const { coreForward } = await import("../../vae/windows.ts");
    const frames = model.wholeLatentFrames(clip.frames);
    for (const w of modelWindows(frames, model.hopFactor, context, coreFrames)) {
      const logMel = new Float32Array(nMels * (w.to - w.from));
      for (let m = 0; m < nMels; m++) {
        for (let t = w.from; t < w.to; t++) {
          logMel[m * (w.to - w.from) + t - w.from] = clip.mel[t * nMels + m];
        }
      }
      await ag.tidy(() =>
        use(coreForward(model, ag.tensor(logMel, [1, nMels, w.to - w.from]), w), w)
      );
    }
  }
  return out;
}

/** Largest |a − b| over frames within `radius` of a seam, and over the rest. */
function errors(a: Float32Array, b: Float32Array, nMels: number, seams: number[], radius: number) {
  let atSeams = 0, away = 0;
  for (let i = 0; i < a.length; i++) {
    const f = Math.floor(i / nMels);
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= 1e30)) return { atSeams: Infinity, away: Infinity };
    if (seams.some((s) => Math.abs(f - s) < radius)) atSeams = Math.max(atSeams, d);
    else away = Math.max(away, d);
  }
  return { atSeams, away };
}

const CONFIGS: [string, ModelConfig][] = [
  ["default depth", { ...DEFAULT_MODEL, channels: 24, latentDim: 6 }],
  [
    "3 stages, edge kernel 7",
    { ...DEFAULT_MODEL, channels: 16, latentDim: 4, downsampleStages: 3, edgeKernel: 7 },
  ],
  ["2 residual blocks a level", {
    ...DEFAULT_MODEL,
    channels: 16,
    latentDim: 4,
    residualBlocks: 2,
  }],
];

for (const [name, config] of CONFIGS) {
  Deno.test(`windows: cores with context equal the whole clip, seams included (${name})`, async () => {
    const model = new MelVae(config, 3);
    const nMels = config.features.nMels;
    // Normalisation other than (0, 1), so that zero padding and normalisation interact.
    model.setNormalization(
      Float32Array.from(randomArray(nMels, 5, -5, -3)),
      Float32Array.from(randomArray(nMels, 6, 0.5, 2)),
    );
    const clip = randomClip(731, nMels, 7); // not a whole number of cores or steps
    const whole = await reconstruct(model, clip, 100000);
    const core = 8 * model.hopFactor * 3; // several cores
    const seams: number[] = [];
    const frames = model.wholeLatentFrames(clip.frames);
    for (let s = core; s < frames; s += core) seams.push(s);
    const radius = modelReachFrames(config);
    let scale = 0;
    for (const v of whole) scale = Math.max(scale, Math.abs(v));
    const windowed = errors(await reconstruct(model, clip, core), whole, nMels, seams, radius);
    assert.ok(windowed.away <= 1e-5 * scale, `away from seams: ${windowed.away} (scale ${scale})`);
    assert.ok(windowed.atSeams <= 1e-5 * scale, `at seams: ${windowed.atSeams} (scale ${scale})`);
    // Without context the cores see zeros past their edges: the seams differ.
    const bare = errors(await reconstruct(model, clip, core, 0), whole, nMels, seams, radius);
    assert.ok(bare.atSeams > 1e-3 * scale, `no context, yet seams agree: ${bare.atSeams}`);
    assert.ok(contextFrames(config) >= radius && contextFrames(config) % model.hopFactor === 0);
    model.dispose();
  });
}

Deno.test("windows: eval of a clip longer than one core equals a single-window pass", async () => {
  const config: ModelConfig = { ...DEFAULT_MODEL, channels: 16, latentDim: 4 };
  const model = new MelVae(config, 9);
  const nMels = config.features.nMels;
  const clip = randomClip(4096 + 4 * 37 + 3, nMels, 11); // two cores of the default 4096
  const e = await evaluateClips(model, [clip]);
  // Reference: one window over the whole clip, its NLL and KL summed here.
  let nll = 0, kl = 0;
  const { klStandardNormal, reconstructionNll } = await import("../../vae/elbo.ts");
  const frames = await forEachCore(model, clip, async ({ x, mu, logvar, xHat }) => {
    nll += await reconstructionNll(config, x, xHat, model.logScale).sum().item();
    kl += await klStandardNormal(mu, logvar).sum().item();
  }, 100000);
  assert.equal(e.frames, frames);
  const near = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-4 * Math.abs(b), `${what}: windowed ${a}, whole ${b}`);
  near(e.recon, nll / frames, "recon per frame");
  near(e.kl, kl / frames, "KL per frame");
  assert.equal(modelWindows(frames, model.hopFactor, contextFrames(config)).length, 2);
  model.dispose();
});

Deno.test("streamReconstruction of frames in pieces equals the whole clip's reconstruction", async () => {
  const config: ModelConfig = { ...DEFAULT_MODEL, channels: 16, latentDim: 4 };
  const model = new MelVae(config, 13);
  const nMels = config.features.nMels;
  const clip = randomClip(1000 + 3, nMels, 17);
  const { output, frames } = await reconstructClip(model, clip);
  async function* pieces() {
    for (let f = 0; f < clip.frames; f += 37) {
      yield clip.mel.slice(f * nMels, Math.min(clip.frames, f + 37) * nMels);
    }
  }
  const chunks = await Array.fromAsync(streamReconstruction(model, pieces(), 96));
  assert.ok(chunks.length >= 10, `${chunks.length} cores`);
  const got = concatSamples(chunks);
  assert.equal(got.length, frames * nMels);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - output[i]));
  assert.ok(worst <= 1e-4, `streamed reconstruction differs by ${worst}`);
  // Fewer frames than one latent step cannot be encoded.
  await assert.rejects(
    Array.fromAsync(streamReconstruction(model, [clip.mel.slice(0, 3 * nMels)])),
    /too short to encode: 3 frames/,
  );
  model.dispose();
});

Deno.test("streamPrior: the same frames whatever the core size", async () => {
  const config: ModelConfig = { ...DEFAULT_MODEL, channels: 16, latentDim: 4 };
  const model = new MelVae(config, 19);
  const opts = { seconds: 9.3, seed: 4, temperature: 0.8 };
  const whole = concatSamples(await Array.fromAsync(streamPrior(model, opts)));
  const steps = priorLatentSteps(config, opts.seconds);
  assert.equal(whole.length, steps * model.hopFactor * config.features.nMels);
  const cored = concatSamples(
    await Array.fromAsync(streamPrior(model, { ...opts, coreFrames: 5 * model.hopFactor })),
  );
  let worst = 0;
  for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(cored[i] - whole[i]));
  assert.ok(worst <= 1e-4, `cores of 5 steps differ from one core by ${worst}`);
  // samplePrior (the report's and the browser's, all at once) gives the same frames.
  const atOnce = await ag.tidy(() =>
    samplePrior(model, opts.seconds, opts.seed, opts.temperature).toArray()
  );
  assert.equal(atOnce.length, whole.length);
  assert.ok(atOnce.every((v, i) => Math.abs(v - whole[i]) <= 1e-4), "samplePrior differs");
  const other = concatSamples(await Array.fromAsync(streamPrior(model, { ...opts, seed: 5 })));
  assert.ok(other.some((v, i) => Math.abs(v - whole[i]) > 1e-3), "another seed, same sample");
  model.dispose();
});
