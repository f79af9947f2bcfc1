import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { checkOp, randomArray, setup } from "../util.ts";

/** Per bin (ℓ, a, b) → e^{min(ℓ, cap)} · (a, b) / √(a² + b² + ε), written from the definition. */
function phasorRef(cap: number, x: Float64Array): Float64Array {
  const bins = x.length / 3;
  const y = new Float64Array(2 * bins);
  for (let i = 0; i < bins; i++) {
    const [l, a, b] = [x[3 * i], x[3 * i + 1], x[3 * i + 2]];
    const m = Math.exp(Math.min(l, cap));
    const r = Math.sqrt(a * a + b * b + ag.PHASOR_EPS);
    y[2 * i] = (m * a) / r;
    y[2 * i + 1] = (m * b) / r;
  }
  return y;
}

Deno.test("logMagnitudePhasor: forward vs float64, gradient vs finite differences", async () => {
  await setup();
  // 2 × 7 × 37 bins: more than one 256-thread workgroup, not a multiple of it. Log-magnitudes in
  // [−3, 1.5] with a cap of 1: some capped (no gradient), most not.
  const shape = [2, 7, 37, 3];
  const n = 2 * 7 * 37;
  const data = randomArray(3 * n, 11);
  const logMag = randomArray(n, 12, -3, 1.5);
  for (let i = 0; i < n; i++) data[3 * i] = logMag[i];
  // Keep finite differences away from the kink at the cap.
  for (let i = 0; i < n; i++) if (Math.abs(data[3 * i] - 1) < 1e-3) data[3 * i] = 0.5;
  await checkOp(
    "logMagnitudePhasor",
    [{ data, shape }],
    (x) => ag.logMagnitudePhasor(x, 1),
    (x) => phasorRef(1, x),
    { gradTol: 2e-3 },
  );
});

Deno.test("logMagnitudePhasor with an offset: forward vs float64, gradients of both inputs", async () => {
  await setup();
  const shape = [3, 41, 3];
  const n = 3 * 41;
  const data = randomArray(3 * n, 21);
  const logMag = randomArray(n, 22, -3, 1);
  for (let i = 0; i < n; i++) data[3 * i] = logMag[i];
  const offset = randomArray(n, 23, -1, 1);
  // Keep finite differences away from the kink at the cap (ℓ + o = 1).
  for (let i = 0; i < n; i++) if (Math.abs(data[3 * i] + offset[i] - 1) < 1e-3) offset[i] -= 0.5;
  await checkOp(
    "logMagnitudePhasor + offset",
    [{ data, shape }, { data: offset, shape: [3, 41] }],
    (x, o) => ag.logMagnitudePhasor(x, 1, o),
    (x, o) => {
      const shifted = Float64Array.from(x);
      for (let i = 0; i < n; i++) shifted[3 * i] += o[i];
      return phasorRef(1, shifted);
    },
    { gradTol: 2e-3 },
  );
});

Deno.test("logMagnitudePhasor: unit phasor, magnitude e^ℓ, refuses a last axis other than 3", async () => {
  await setup();
  await ag.tidy(async () => {
    const y = await ag.logMagnitudePhasor(ag.tensor([Math.log(2), 3, 4, 0, -5, 0], [2, 3]), 10)
      .toArray();
    assert.deepEqual([...y].map((v) => Math.round(v * 1e5) / 1e5), [1.2, 1.6, -1, 0]);
    assert.throws(
      () => ag.logMagnitudePhasor(ag.zeros([4, 2]), 1),
      /input \[4,2\] is not \[\.\.\., 3\]/,
    );
    assert.throws(
      () => ag.logMagnitudePhasor(ag.zeros([4, 3]), 1, ag.zeros([3])),
      /offset \[3\] should be \[4\]/,
    );
  });
});
