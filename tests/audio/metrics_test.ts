import assert from "node:assert/strict";
import {
  logSpectralDistance,
  lsd,
  melCepstralDistortion,
  melCepstrum,
  melLsd,
  spectralConvergence,
} from "../../audio/metrics.ts";

function near(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: ${got} vs ${want} (tolerance ${tol})`);
}

Deno.test("spectralConvergence: Frobenius norm of the magnitude error over that of the reference", () => {
  near(
    spectralConvergence([1, 2, 3, 4], [1, 2, 3, 5]),
    1 / Math.sqrt(30),
    1e-15,
    "one bin off by 1",
  );
  near(spectralConvergence([3, 4], [0, 0]), 1, 0, "silence");
  near(spectralConvergence([3, 4], [3, 4]), 0, 0, "identical");
  // ‖(6, 8) − (3, 4)‖ / ‖(3, 4)‖ = 5 / 5; signs are dropped (magnitudes).
  near(spectralConvergence([3, -4], [6, 8]), 1, 1e-15, "double");
  assert.throws(() => spectralConvergence([1, 2], [1]), /2 values, estimate 1/);
  assert.throws(() => spectralConvergence([0, 0], [1, 1]), /all zero/);
});

Deno.test("logSpectralDistance: per-frame RMS of the dB difference, averaged over frames", () => {
  // Frame 0: differences (10, 0) dB → √50; frame 1: (20, 20) dB → 20. No floor.
  near(
    logSpectralDistance([1, 1, 1, 1], [10, 1, 100, 100], 2, 0),
    (Math.sqrt(50) + 20) / 2,
    1e-12,
    "two frames of two bands",
  );
  // Symmetric in its arguments, zero for identical spectra.
  near(
    logSpectralDistance([10, 1, 100, 100], [1, 1, 1, 1], 2, 0),
    (Math.sqrt(50) + 20) / 2,
    1e-12,
    "swap",
  );
  near(logSpectralDistance([2, 3, 4], [2, 3, 4], 3), 0, 0, "identical");
  assert.throws(() => logSpectralDistance([1, 2, 3], [1, 2, 3], 2), /not whole frames of 2/);
});

Deno.test("melLsd and lsd: TARGETS.md's definition with P = power + 1e-5", () => {
  // Silence against 9e-5: P = 1e-5 vs 1e-4, 10 dB in one band of two → √(100 / 2).
  near(melLsd([0, 0], [9e-5, 0], 2), Math.sqrt(50), 1e-9, "floor of 1e-5");
  // 80 bands by default: one frame, every band 10× (the floor makes it a hair under 10 dB).
  const ref = new Float64Array(80).fill(1);
  const est = new Float64Array(80).fill(10);
  near(melLsd(ref, est), 10 * Math.log10(10.00001 / 1.00001), 1e-12, "80 bands");
  // lsd: 513 bins by default; two frames, the second identical.
  const refLin = new Float64Array(2 * 513).fill(1);
  const estLin = refLin.map((v, i) => (i < 513 ? 100 : v));
  near(lsd(refLin, estLin), 10 * Math.log10(100.00001 / 1.00001) / 2, 1e-12, "513 bins");
  assert.throws(() => lsd(refLin.subarray(1), estLin.subarray(1)), /whole frames of 513/);
});

Deno.test("melCepstrum: DCT-II scaled as the real cepstrum of the log amplitude", () => {
  const n = 16;
  const x = Array.from({ length: n }, (_, i) => 3 + Math.cos((Math.PI * 2 * (i + 0.5)) / n));
  const c = melCepstrum(x, 4); // c1..c4
  near(c[0], 0, 1e-14, "c1");
  near(c[1], 0.5, 1e-14, "c2 of cos(2·…) is ½ (x ≈ c0 + 2 Σ c_k cos)");
  near(c[2], 0, 1e-14, "c3");
  near(c[3], 0, 1e-14, "c4");
  assert.throws(() => melCepstrum(x, 16), /16 coefficients from 16 bands/);
});

Deno.test("melCepstralDistortion: (10 / ln 10) · √(2 Σ Δc²) of the log-amplitude cepstra", () => {
  const nMels = 20;
  const ref = new Float64Array(2 * nMels);
  // Frame 0: a cosine of amplitude 2a in log power (a in log amplitude) plus a level offset,
  // which lives in c0 and is ignored. Frame 1: identical to the reference.
  const a = 0.3;
  const est = ref.map((_, i) =>
    i < nMels ? 5 + 2 * a * Math.cos((Math.PI * 1 * (i + 0.5)) / nMels) : 0
  );
  const frame0 = (10 / Math.LN10) * a / Math.SQRT2;
  near(melCepstralDistortion(ref, est, nMels), frame0 / 2, 1e-12, "c1 cosine, averaged over 2");
  // A level shift alone costs nothing.
  near(melCepstralDistortion(ref, ref.map(() => 4), nMels), 0, 1e-12, "level shift");
  // Quefrency 13 counts with 13 coefficients, 14 does not.
  const cos = (k: number) =>
    Array.from({ length: nMels }, (_, i) => 2 * a * Math.cos((Math.PI * k * (i + 0.5)) / nMels));
  const zero = new Float64Array(nMels);
  near(melCepstralDistortion(zero, cos(13), nMels, 13), frame0, 1e-12, "c13 included");
  near(melCepstralDistortion(zero, cos(14), nMels, 13), 0, 1e-12, "c14 left out");
  near(melCepstralDistortion(zero, cos(14), nMels, 14), frame0, 1e-12, "c14 with 14 coefficients");
  assert.throws(() => melCepstralDistortion([1, 2], [1, 2, 3], 1), /2 values, estimate 3/);
});
