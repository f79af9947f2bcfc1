import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { melFilterbank } from "../../audio/mel.ts";
import { assertClose, checkOp, randomArray, setup } from "../util.ts";

/** Dense float64 y = x · Aᵀ, x [rows, cols], A [n, cols]. */
function refProduct(x: Float64Array, a: ArrayLike<number>, n: number, cols: number) {
  const rows = x.length / cols;
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += x[r * cols + k] * a[i * cols + k];
      y[r * n + i] = s;
    }
  }
  return y;
}

/** A banded test matrix [n, cols]: row i nonzero on a run that varies in start and width. */
function bandMatrix(n: number, cols: number): Float64Array {
  const a = new Float64Array(n * cols);
  const vals = randomArray(n * cols, 7);
  for (let i = 0; i < n; i++) {
    if (i === 1) continue; // an empty row
    const start = (i * 3) % cols;
    const end = Math.min(cols, start + 1 + (i % 4));
    for (let k = start; k < end; k++) a[i * cols + k] = vals[i * cols + k];
  }
  // A zero inside a run, which the band stores explicitly.
  a[2 * cols + ((2 * 3) % cols) + 1] = 0;
  return Float64Array.from(Float32Array.from(a));
}

Deno.test("bandedMatmul matches a dense float64 product (mel filterbank and a ragged band)", async () => {
  await setup();
  const fb = melFilterbank({ sampleRate: 16000, nFft: 1024, nMels: 80, fMax: 8000 });
  for (
    const [a, n, cols, shape] of [
      [Float64Array.from(Float32Array.from(fb)), 80, 513, [3, 7, 513]],
      [bandMatrix(9, 13), 9, 13, [5, 13]],
    ] as const
  ) {
    const m = ag.BandedMatrix.fromDense(a, n, cols);
    await ag.tidy(async () => {
      const data = Float32Array.from(randomArray(shape.reduce((p, d) => p * d, 1), n));
      const y = ag.bandedMatmul(ag.tensor(data, [...shape]), m);
      assert.deepEqual(y.shape, [...shape.slice(0, -1), n]);
      assertClose(await y.toArray(), refProduct(Float64Array.from(data), a, n, cols), 1e-6, "y");
      const dense = ag.tensor(Float32Array.from(data), [...shape]).matmul(
        ag.tensor(Float32Array.from(a), [n, cols]).transpose(0, 1),
      );
      assertClose(await y.toArray(), await dense.toArray(), 1e-5, "y vs dense matmul");
    });
    m.dispose();
  }
});

Deno.test("bandedMatmul gradient (the transposed band) matches finite differences", async () => {
  await setup();
  const [n, cols] = [9, 13];
  const a = bandMatrix(n, cols);
  const m = ag.BandedMatrix.fromDense(a, n, cols);
  await checkOp(
    "bandedMatmul",
    [{ data: randomArray(4 * cols, 3), shape: [4, cols] }],
    (x) => ag.bandedMatmul(x, m),
    (x) => refProduct(x, a, n, cols),
  );
  m.dispose();
});

Deno.test("bandedMatmul refuses a mismatched input and a disposed matrix", async () => {
  await setup();
  const m = ag.BandedMatrix.fromDense([1, 0, 0, 1], 2, 2);
  ag.tidy(() => {
    assert.throws(() => ag.bandedMatmul(ag.zeros([3, 3]), m), /does not end in 2/);
    m.dispose();
    assert.throws(() => ag.bandedMatmul(ag.zeros([3, 2]), m), /after dispose/);
  });
  assert.throws(() => ag.BandedMatrix.fromDense([1, 2, 3], 2, 2), /are not \[2, 2\]/);
});
