import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { currentAdapter } from "../../engine/device.ts";
import { fftVariant } from "../../engine/ops/fft.ts";
import { dispatchesOf } from "./dispatch_log.ts";
import { fftVariantTest } from "./fft_variants.ts";
import { assertClose, checkOp, randomArray, relError, setup, size } from "../util.ts";

/** cos and sin of 2π·m/n for m = 0..n−1, in float64. */
function unitCircle(n: number): [Float64Array, Float64Array] {
  const cos = new Float64Array(n), sin = new Float64Array(n);
  for (let m = 0; m < n; m++) {
    cos[m] = Math.cos((2 * Math.PI * m) / n);
    sin[m] = Math.sin((2 * Math.PI * m) / n);
  }
  return [cos, sin];
}

/** Plain O(n²) real DFT in float64: rows of n → rows of (n/2+1) × (re, im). */
function refRfft(x: Float64Array, n: number): Float64Array {
  const rows = x.length / n;
  const bins = n / 2 + 1;
  const [cos, sin] = unitCircle(n);
  const out = new Float64Array(rows * bins * 2);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < bins; k++) {
      let re = 0, im = 0;
      for (let j = 0; j < n; j++) {
        const v = x[r * n + j];
        const m = (j * k) % n;
        re += v * cos[m];
        im -= v * sin[m];
      }
      out[(r * bins + k) * 2] = re;
      out[(r * bins + k) * 2 + 1] = im;
    }
  }
  return out;
}

/** Plain inverse real DFT in float64 (1/n, Hermitian; imag of bins 0 and n/2 ignored). */
function refIrfft(spec: Float64Array, n: number): Float64Array {
  const bins = n / 2 + 1;
  const rows = spec.length / (2 * bins);
  const [cos, sin] = unitCircle(n);
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < bins; k++) {
        const re = spec[(r * bins + k) * 2], im = spec[(r * bins + k) * 2 + 1];
        const m = (j * k) % n;
        if (k === 0 || k === n / 2) s += re * cos[m];
        else s += 2 * (re * cos[m] - im * sin[m]);
      }
      out[r * n + j] = s / n;
    }
  }
  return out;
}

fftVariantTest("rfft matches a float64 DFT for n = 2 … 4096 on batched rows", async () => {
  await setup();
  for (
    const [n, batch] of [[2, [3, 5]], [8, [3, 5]], [64, [3, 5]], [512, [3, 5]], [4096, [3, 5]], [
      8,
      [1001],
    ], [64, [67]]] as [number, number[]][]
  ) {
    await ag.tidy(async () => {
      const data = randomArray(size(batch) * n, n + batch[0]);
      const x = ag.tensor(Float32Array.from(data), [...batch, n]);
      const X = ag.rfft(x);
      assert.deepEqual(X.shape, [...batch, n / 2 + 1, 2]);
      const got = await X.toArray();
      const ref = refRfft(Float64Array.from(Float32Array.from(data)), n);
      const err = relError(got, ref);
      console.log(`rfft n=${n} batch=[${batch}]: rel err ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `rfft n=${n}: relative error ${err}`);
      // Bins 0 and n/2 are real: exactly zero imaginary parts, as torch gives.
      for (let r = 0; r < size(batch); r++) {
        assert.equal(got[r * (n + 2) + 1], 0);
        assert.equal(got[r * (n + 2) + n + 1], 0);
      }
    });
  }
});

fftVariantTest("irfft matches a float64 inverse DFT, ignoring imag of DC and Nyquist", async () => {
  await setup();
  for (const n of [2, 8, 64, 512, 4096]) {
    await ag.tidy(async () => {
      const batch = [3, 5];
      const data = randomArray(size(batch) * (n / 2 + 1) * 2, 7 * n);
      const X = ag.tensor(Float32Array.from(data), [...batch, n / 2 + 1, 2]);
      const x = ag.irfft(X, n);
      assert.deepEqual(x.shape, [...batch, n]);
      const ref = refIrfft(Float64Array.from(Float32Array.from(data)), n);
      const err = relError(await x.toArray(), ref);
      console.log(`irfft n=${n}: rel err ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `irfft n=${n}: relative error ${err}`);
    });
  }
});

fftVariantTest("irfft(rfft(x)) round-trips", async () => {
  await setup();
  for (const n of [8, 64, 512, 4096]) {
    await ag.tidy(async () => {
      const data = Float32Array.from(randomArray(15 * n, 3 * n));
      const y = ag.irfft(ag.rfft(ag.tensor(data, [3, 5, n])));
      const err = relError(await y.toArray(), data);
      console.log(`round trip n=${n}: rel err ${err.toExponential(2)}`);
      assert.ok(err < 1e-5, `round trip n=${n}: relative error ${err}`);
    });
  }
});

fftVariantTest("irfft crops or zero-pads the spectrum to n/2+1 bins, like torch", async () => {
  await setup();
  await ag.tidy(async () => {
    const data = randomArray(2 * 5 * 2, 11);
    const X = ag.tensor(Float32Array.from(data), [2, 5, 2]);
    const f64 = Float64Array.from(Float32Array.from(data));
    // n = 4 keeps bins 0..2; n = 16 adds four zero bins.
    const crop = new Float64Array(2 * 3 * 2);
    const wide = new Float64Array(2 * 9 * 2);
    for (let r = 0; r < 2; r++) {
      crop.set(f64.subarray(r * 10, r * 10 + 6), r * 6);
      wide.set(f64.subarray(r * 10, r * 10 + 10), r * 18);
    }
    assertClose(await ag.irfft(X, 4).toArray(), refIrfft(crop, 4), 1e-5, "irfft crop");
    assertClose(await ag.irfft(X, 16).toArray(), refIrfft(wide, 16), 1e-5, "irfft pad");
  });
});

fftVariantTest(
  "rfft gradient matches finite differences (n = 8, 16, 32; odd batches)",
  async () => {
    await setup();
    for (const [n, batch] of [[8, 3], [16, 5], [32, 7]]) {
      await checkOp(
        `rfft n=${n}`,
        [{ data: randomArray(batch * n, n), shape: [batch, n] }],
        (x) => ag.rfft(x),
        (x) => refRfft(x, n),
        { seed: n },
      );
    }
  },
);

fftVariantTest(
  "irfft gradient matches finite differences (n = 8, 16, 32; odd batches)",
  async () => {
    await setup();
    for (const [n, batch] of [[8, 3], [16, 5], [32, 7]]) {
      await checkOp(
        `irfft n=${n}`,
        [{ data: randomArray(batch * (n / 2 + 1) * 2, n + 1), shape: [batch, n / 2 + 1, 2] }],
        (X) => ag.irfft(X, n),
        (X) => refIrfft(X, n),
        { seed: n + 1 },
      );
    }
  },
);

Deno.test("rfft and irfft refuse lengths the kernel does not support", async () => {
  await setup();
  ag.tidy(() => {
    assert.throws(() => ag.rfft(ag.zeros([2, 12])), /power of two/);
    assert.throws(() => ag.rfft(ag.zeros([8192])), /power of two from 2 to 4096/);
    assert.throws(() => ag.irfft(ag.zeros([7, 2]), 12), /power of two/);
    assert.throws(() => ag.irfft(ag.zeros([7, 3]), 12), /real, imaginary/);
  });
});

Deno.test("the FFT kernels are the runtime's choice; every adapter gets the workgroup kernels by default", async () => {
  await setup();
  const kernels = async (fftVariant: "frame" | "workgroup" | null) =>
    (await dispatchesOf(() =>
      ag.rt().withKernelChoices(
        { fftVariant },
        () => ag.tidy(() => ag.irfft(ag.rfft(ag.ones([3, 16]))).toArray()),
      )
    )).dispatches.map((d) => d.kernel).filter((k) => /fft/.test(k));
  assert.deepEqual(await kernels("frame"), ["rfft_frame", "irfft_frame"]);
  assert.deepEqual(await kernels("workgroup"), ["rfft", "irfft"]);
  // The frame kernels alias writable bindings, which WebGPU forbids (Chrome refuses them).
  assert.deepEqual(await kernels(null), ["rfft", "irfft"]);
  assert.equal(fftVariant(), "workgroup");
});

Deno.test("a frame-kernel batch whose scratch exceeds one storage binding runs on the workgroup kernels", async () => {
  await setup();
  const limits = currentAdapter()!.limits;
  const saved = limits.maxStorageBufferBindingSize;
  const data = randomArray(3 * 64, 5);
  const run = () =>
    dispatchesOf(() =>
      ag.rt().withKernelChoices(
        { fftVariant: "frame" },
        () => ag.tidy(() => ag.rfft(ag.tensor(Float32Array.from(data), [3, 64])).toArray()),
      )
    );
  try {
    // 3 rows of n = 64 need 3 · 32 · 16 bytes of scratch (1,536; a 1,536-byte pool bucket).
    limits.maxStorageBufferBindingSize = 1024;
    const small = await run();
    limits.maxStorageBufferBindingSize = saved;
    const fits = await run();
    const ffts = (r: typeof small) =>
      r.dispatches.map((d) => d.kernel).filter((k) => /fft/.test(k));
    assert.deepEqual(ffts(small), ["rfft"]);
    assert.deepEqual(ffts(fits), ["rfft_frame"]);
    const ref = refRfft(data, 64);
    assert.ok(relError(small.result, ref) < 1e-5, `rel ${relError(small.result, ref)}`);
    assert.ok(relError(fits.result, ref) < 1e-5, `rel ${relError(fits.result, ref)}`);
  } finally {
    limits.maxStorageBufferBindingSize = saved;
  }
});
