import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { LogMel } from "../../audio/features.ts";
import {
  discriminatorLoss,
  featureMatchingLoss,
  generatorAdversarialLoss,
  melL1,
  multiResolutionStftLoss,
} from "../../vocoder/losses.ts";
import { randomArray, setup } from "../util.ts";

const RESOLUTIONS: [number, number][] = [[256, 64], [512, 128]];

/** Two segments of a chirp plus noise (no silent bins, so the floor never binds). */
function signals(): Float32Array {
  const n = 4096, out = new Float32Array(2 * n), noise = randomArray(2 * n, 5);
  for (let b = 0; b < 2; b++) {
    for (let i = 0; i < n; i++) {
      out[b * n + i] = 0.3 * Math.sin(0.02 * i + 1e-5 * i * i * (b + 1)) + 0.05 * noise[b * n + i];
    }
  }
  return out;
}

Deno.test("reconstruction losses: 0 for the signal itself, ln 4 (L2: its square) and 1/2 for half of it", async () => {
  await setup();
  const logMel = new LogMel();
  await ag.tidy(async () => {
    const real = ag.tensor(signals(), [2, 4096]);
    const same = multiResolutionStftLoss(real, real, RESOLUTIONS);
    assert.ok((await melL1(logMel, real, real).item()) < 1e-6);
    assert.ok((await same.spectralConvergence.item()) < 1e-6);
    assert.ok((await same.logMagnitude.item()) < 1e-6);
    // Half the amplitude: a quarter of the power in every bin and band.
    const half = real.mul(0.5);
    const mel = await melL1(logMel, half, real).item();
    assert.ok(Math.abs(mel - Math.log(4)) < 1e-3, `mel L1 ${mel} vs ln 4`);
    const t = multiResolutionStftLoss(half, real, RESOLUTIONS);
    const sc = await t.spectralConvergence.item(), mag = await t.logMagnitude.item();
    assert.ok(Math.abs(sc - 0.5) < 1e-4, `spectral convergence ${sc} vs 0.5`);
    assert.ok(Math.abs(mag - Math.log(4)) < 1e-3, `log-magnitude L1 ${mag} vs ln 4`);
    const l2 = await multiResolutionStftLoss(half, real, RESOLUTIONS, "l2").logMagnitude.item();
    assert.ok(Math.abs(l2 - Math.log(4) ** 2) < 3e-3, `log-magnitude L2 ${l2} vs (ln 4)²`);
  });
  logMel.dispose();
});

Deno.test("reconstruction losses: power below 1e-8 of the real peak counts as the floor", async () => {
  await setup();
  const logMel = new LogMel();
  await ag.tidy(async () => {
    const real = ag.tensor(signals(), [2, 4096]);
    // Silence vs a 1e-6-amplitude hiss: both under −80 dB of the peak, so no loss at all,
    // where a fixed tiny floor would count ~20 nats of difference.
    const quiet = ag.zeros([2, 4096]);
    const hiss = ag.tensor(randomArray(2 * 4096, 7).map((v) => 1e-6 * v), [2, 4096]);
    const withPeak = (x: ag.Tensor) => ag.concat([real, x], 1); // same peak, quiet second half
    const l = multiResolutionStftLoss(withPeak(hiss), withPeak(quiet), RESOLUTIONS);
    const mag = await l.logMagnitude.item();
    const mel = await melL1(logMel, withPeak(hiss), withPeak(quiet)).item();
    assert.ok(mag < 0.05, `log-magnitude L1 ${mag} should ignore sub-floor hiss`);
    assert.ok(mel < 0.05, `mel L1 ${mel} should ignore sub-floor hiss`);
  });
  logMel.dispose();
});

Deno.test("reconstruction losses pass gradients to the generated waveform only", async () => {
  await setup();
  const logMel = new LogMel();
  await ag.tidy(async () => {
    const real = ag.tensor(signals(), [2, 4096], { requiresGrad: true });
    const fake = ag.tensor(signals().map((v) => 0.7 * v), [2, 4096], { requiresGrad: true });
    const t = multiResolutionStftLoss(fake, real, RESOLUTIONS);
    melL1(logMel, fake, real).add(t.spectralConvergence).add(t.logMagnitude).backward();
    assert.equal(real.grad, null);
    const g = await fake.grad!.toArray();
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0));
  });
  logMel.dispose();
});

Deno.test("least-squares GAN terms and feature matching match their definitions", async () => {
  await setup();
  await ag.tidy(async () => {
    const real = [ag.tensor([1, 0.5], [2]), ag.tensor([2], [1])];
    const fake = [ag.tensor([0, 1], [2]), ag.tensor([-1], [1])];
    // D: mean((1−r)²) + mean(f²) per discriminator: (0 + 0.25)/2 + 1/2, then 1 + 1.
    assert.ok(Math.abs((await discriminatorLoss(real, fake).item()) - (0.625 + 2)) < 1e-6);
    // G: mean((1−f)²): (1 + 0)/2, then 4.
    assert.ok(Math.abs((await generatorAdversarialLoss(fake).item()) - 4.5) < 1e-6);
    // FM: per discriminator, mean over layers of mean |r − f|.
    const fm = featureMatchingLoss([[real[0], real[1]]], [[fake[0], fake[1]]]);
    assert.ok(Math.abs((await fm.item()) - (0.75 + 3) / 2) < 1e-6);
  });
});

Deno.test("reconstruction losses stay finite on a digitally silent segment", async () => {
  await setup();
  const logMel = new LogMel();
  await ag.tidy(async () => {
    const silent = ag.zeros([2, 4096]);
    const fake = ag.tensor(randomArray(2 * 4096, 8).map((v) => 1e-3 * v), [2, 4096]);
    const t = multiResolutionStftLoss(fake, silent, RESOLUTIONS);
    for (const v of [melL1(logMel, fake, silent), t.spectralConvergence, t.logMagnitude]) {
      assert.ok(Number.isFinite(await v.item()));
    }
    assert.ok((await melL1(logMel, silent, silent).item()) === 0);
  });
  logMel.dispose();
});
