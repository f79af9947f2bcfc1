/**
 * Tests for vae/elbo.ts against float64 references: the Gaussian and Laplace negative
 * log-likelihoods and the Gaussian KL (forward and gradients), the KL warm-up, active
 * dimensions, the reparameterisation, and elboTerms on a tiny model (units, free bits, β).
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { DEFAULT_FEATURES } from "../../audio/features.ts";
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig } from "../../vae/config.ts";
import {
  activeDims,
  betaAt,
  elboTerms,
  gaussianNll,
  klStandardNormal,
  klWeight,
  laplaceNll,
  lrAt,
  reconstructionNll,
  reparameterize,
} from "../../vae/elbo.ts";
import { MelVae } from "../../vae/model.ts";
import { assertClose, checkOp, randomArray, setup } from "../util.ts";

await setup();

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function gaussianRef(x: Float64Array, m: Float64Array, s: Float64Array): Float64Array {
  return x.map((v, i) => 0.5 * ((v - m[i]) * Math.exp(-s[0])) ** 2 + s[0] + HALF_LOG_2PI);
}

function laplaceRef(x: Float64Array, m: Float64Array, s: Float64Array): Float64Array {
  return x.map((v, i) => Math.abs(v - m[i]) * Math.exp(-s[0]) + s[0] + Math.LN2);
}

function klRef(mu: Float64Array, lv: Float64Array): Float64Array {
  return mu.map((m, i) => 0.5 * (m * m + Math.exp(lv[i]) - 1 - lv[i]));
}

const input = (seed: number, shape: number[], lo = -2, hi = 2) => ({
  data: randomArray(shape.reduce((a, b) => a * b, 1), seed, lo, hi),
  shape,
});

Deno.test("gaussianNll matches −log N(x; m, e^{2s}) in float64, with gradients", async () => {
  for (const s of [0, -0.7, 0.4]) {
    await checkOp(
      `gaussianNll (log-scale ${s})`,
      [input(1, [3, 5]), input(2, [3, 5]), { data: Float64Array.of(s), shape: [] }],
      (x, m, ls) => gaussianNll(x, m, ls),
      gaussianRef,
    );
  }
  // The density integrates: at x = m, log-scale 0 the NLL is ½·log 2π.
  const v = await ag.tidy(() =>
    gaussianNll(ag.tensor([1.5], [1]), ag.tensor([1.5], [1]), ag.zeros([])).item()
  );
  assert.ok(Math.abs(v - HALF_LOG_2PI) < 1e-6, `NLL at the mean ${v}`);
});

Deno.test("laplaceNll matches −log Laplace(x; m, e^s) in float64, with gradients", async () => {
  for (const s of [0, -0.5, 0.8]) {
    await checkOp(
      `laplaceNll (log-scale ${s})`,
      [input(3, [4, 6]), input(4, [4, 6]), { data: Float64Array.of(s), shape: [] }],
      (x, m, ls) => laplaceNll(x, m, ls),
      laplaceRef,
    );
  }
});

Deno.test("klStandardNormal matches ½(μ² + σ² − 1 − log σ²), zero at N(0, 1)", async () => {
  await checkOp(
    "klStandardNormal",
    [input(5, [2, 3, 4]), input(6, [2, 3, 4], -3, 2)],
    (mu, lv) => klStandardNormal(mu, lv),
    klRef,
  );
  const zero = await ag.tidy(() => klStandardNormal(ag.zeros([5]), ag.zeros([5])).toArray());
  assert.ok(zero.every((v) => Math.abs(v) < 1e-7), `KL(N(0,1) ‖ N(0,1)) = ${zero}`);
  // Non-negative everywhere, as a KL must be.
  const kl = await ag.tidy(() =>
    klStandardNormal(
      ag.tensor(Float32Array.from(randomArray(100, 7, -3, 3)), [100]),
      ag.tensor(Float32Array.from(randomArray(100, 8, -6, 4)), [100]),
    ).toArray()
  );
  assert.ok(kl.every((v) => v >= -1e-6), "KL went negative");
});

Deno.test("klWeight warms up linearly to 1 and betaAt reads the train config", () => {
  assert.equal(klWeight(0, 100), 0);
  assert.equal(klWeight(25, 100), 0.25);
  assert.equal(klWeight(100, 100), 1);
  assert.equal(klWeight(1000, 100), 1);
  assert.equal(klWeight(0, 0), 1, "no warm-up means β = 1 from the start");
  assert.equal(betaAt(30, { ...DEFAULT_TRAIN, klWarmupSteps: 60 }), 0.5);
});

Deno.test("activeDims counts dimensions strictly above the threshold", () => {
  assert.equal(activeDims([0.05, 0.2, 0.1, 1.5]), 2);
  assert.equal(activeDims(Float32Array.of(0.3, 0.4), 0.35), 1);
  assert.equal(activeDims([]), 0);
});

Deno.test("reparameterize draws μ + σ·ε with ε from the given generator", async () => {
  const mu = Float32Array.from(randomArray(24, 9));
  const lv = Float32Array.from(randomArray(24, 10, -2, 1));
  const [z, eps] = await ag.tidy(async () => {
    const z = reparameterize(
      ag.tensor(mu, [2, 3, 4]),
      ag.tensor(lv, [2, 3, 4]),
      new ag.Generator(7),
    );
    const eps = ag.randn([2, 3, 4], { generator: new ag.Generator(7) });
    return [await z.toArray(), await eps.toArray()];
  });
  const ref = Float64Array.from(mu, (m, i) => m + Math.exp(0.5 * lv[i]) * eps[i]);
  assertClose(z, ref, 1e-6, "reparameterize");
  const eStd = Math.sqrt(eps.reduce((s, e) => s + e * e, 0) / eps.length);
  assert.ok(eStd > 0.4 && eStd < 2, `ε does not look standard normal (rms ${eStd})`);
});

function tinyConfig(likelihood: ModelConfig["likelihood"]): ModelConfig {
  return {
    ...DEFAULT_MODEL,
    features: { ...DEFAULT_FEATURES, nMels: 6 },
    channels: 5,
    latentDim: 3,
    downsampleStages: 1,
    edgeKernel: 3,
    likelihood,
  };
}

/** float64 ELBO terms from the model's own μ, log σ² and x̂ (z = μ). */
async function referenceTerms(
  model: MelVae,
  x: Float32Array,
  shape: [number, number, number],
  beta: number,
  freeBits: number,
) {
  const [batch, nMels, frames] = shape;
  const { mu, lv, xHat, logScale, latentSteps } = await ag.tidy(async () => {
    const xt = ag.tensor(x, shape);
    const { mu, logvar } = model.encoder.encode(xt);
    return {
      mu: await mu.toArray(),
      lv: await logvar.toArray(),
      xHat: await model.decoder.forward(mu).toArray(),
      logScale: await model.logScale.item(),
      latentSteps: mu.shape[2],
    };
  });
  const nll = model.config.likelihood === "laplace" ? laplaceRef : gaussianRef;
  const x64 = Float64Array.from(x);
  const reconSum = nll(x64, Float64Array.from(xHat), Float64Array.of(logScale))
    .reduce((a, b) => a + b, 0);
  const klElems = klRef(Float64Array.from(mu), Float64Array.from(lv));
  const latentDim = model.config.latentDim;
  const klPerDim = new Float64Array(latentDim);
  klElems.forEach((v, i) => klPerDim[Math.floor(i / latentSteps) % latentDim] += v);
  klPerDim.forEach((v, d) => klPerDim[d] = v / (batch * latentSteps));
  const kl = klElems.reduce((a, b) => a + b, 0) / (batch * frames);
  const recon = reconSum / (batch * frames);
  const penalty = klPerDim.reduce((s, v) => s + Math.max(v, freeBits), 0) * latentSteps / frames;
  assert.equal(nMels * batch * frames, x.length);
  return { recon, kl, klPerDim, loss: recon + beta * penalty, xHat };
}

for (const likelihood of ["gaussian", "laplace"] as const) {
  Deno.test(`elboTerms (${likelihood}) matches float64: units, free bits and β`, async () => {
    const model = new MelVae(tinyConfig(likelihood), 3);
    // A non-zero learned scale, so that the likelihood's log-scale term is exercised.
    model.loadStateDict({ log_scale: ag.tensor([-0.3], []) }, { strict: false });
    const shape: [number, number, number] = [2, 6, 8];
    const x = Float32Array.from(randomArray(96, 11, -2, 2));
    const ref0 = await referenceTerms(model, x, shape, 1, 0);
    // Free bits at the median KL dimension: some dimensions are floored, some are not.
    const sorted = [...ref0.klPerDim].sort((a, b) => a - b);
    const freeBits = sorted[1];
    for (const [beta, fb] of [[1, 0], [0.3, freeBits], [0, 5]] as const) {
      const ref = await referenceTerms(model, x, shape, beta, fb);
      const got = await ag.tidy(async () => {
        const t = elboTerms(model, ag.tensor(x, shape), { beta, freeBits: fb, sample: false });
        return {
          loss: await t.loss.item(),
          recon: await t.recon.item(),
          kl: await t.kl.item(),
          klPerDim: await t.klPerDim.toArray(),
          xHat: await t.xHat.toArray(),
          xHatShape: t.xHat.shape,
        };
      });
      const what = `${likelihood} β=${beta} freeBits=${fb}`;
      assertClose([got.recon], [ref.recon], 1e-5, `recon ${what}`);
      assertClose([got.kl], [ref.kl], 1e-5, `kl ${what}`);
      assertClose(got.klPerDim, ref.klPerDim, 1e-5, `klPerDim ${what}`);
      assertClose([got.loss], [ref.loss], 1e-5, `loss ${what}`);
      assert.deepEqual(got.xHatShape, shape);
      assertClose(got.xHat, ref.xHat, 1e-6, `xHat ${what}`);
    }
    // Without free bits the KL penalty is exactly the per-frame KL: loss = −ELBO at β = 1.
    const t = await ag.tidy(async () => {
      const t = elboTerms(model, ag.tensor(x, shape), { beta: 1, freeBits: 0, sample: false });
      return [await t.loss.item(), await t.recon.item(), await t.kl.item()];
    });
    assert.ok(Math.abs(t[0] - (t[1] + t[2])) < 1e-4 * Math.abs(t[0]), `loss ${t}`);
    // reconstructionNll dispatches on the configured likelihood.
    const nll = await ag.tidy(() =>
      reconstructionNll(model.config, ag.tensor([1], [1]), ag.tensor([0], [1]), ag.zeros([]))
        .item()
    );
    const expected = likelihood === "laplace" ? 1 + Math.LN2 : 0.5 + HALF_LOG_2PI;
    assert.ok(Math.abs(nll - expected) < 1e-6, `${likelihood} NLL ${nll} vs ${expected}`);
  });
}

Deno.test("elboTerms with sample: true uses the generator (seeded, reproducible)", async () => {
  const model = new MelVae(tinyConfig("gaussian"), 4);
  const x = Float32Array.from(randomArray(96, 12, -2, 2));
  const run = (seed: number) =>
    ag.tidy(() =>
      elboTerms(model, ag.tensor(x, [2, 6, 8]), {
        beta: 1,
        freeBits: 0,
        sample: true,
        generator: new ag.Generator(seed),
      }).recon.item()
    );
  const a = await run(1), b = await run(1), c = await run(2);
  assert.equal(a, b, "same generator seed, different reconstruction");
  assert.notEqual(a, c, "different seeds drew the same z");
});

Deno.test("lrAt: constant, or a half cosine from lr to lr/10 over the run", () => {
  const base = { ...DEFAULT_TRAIN, lr: 2e-3, steps: 101 };
  assert.equal(lrAt(0, { ...base, lrSchedule: "constant" }), 2e-3);
  assert.equal(lrAt(70, { ...base, lrSchedule: "constant" }), 2e-3);
  // A train config saved before the schedule existed has none: constant.
  assert.equal(lrAt(70, { ...base, lrSchedule: undefined }), 2e-3);
  const cos = { ...base, lrSchedule: "cosine" as const };
  assert.equal(lrAt(0, cos), 2e-3);
  assert.ok(Math.abs(lrAt(100, cos) - 2e-4) < 1e-15, "the last step is at lr / 10");
  assert.ok(Math.abs(lrAt(50, cos) - 1.1e-3) < 1e-15, "half way: (lr + lr/10) / 2");
  assert.ok(Math.abs(lrAt(25, cos) - (2e-4 + 1.8e-3 * 0.5 * (1 + Math.SQRT1_2))) < 1e-15);
  assert.equal(lrAt(500, cos), lrAt(100, cos), "past the end it stays at the floor");
});
