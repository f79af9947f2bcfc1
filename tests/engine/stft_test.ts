import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { fftVariantTest } from "./fft_variants.ts";
import { checkOp, randomArray, relError, setup } from "../util.ts";

/** Periodic Hann window, like torch.hann_window(n). */
function hann(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, k) => 0.5 - 0.5 * Math.cos((2 * Math.PI * k) / n));
}

/** Reflect padding by p on each side (edge sample not repeated), like F.pad(mode="reflect"). */
function reflectPad(x: Float64Array, p: number): Float64Array {
  const n = x.length;
  return Float64Array.from({ length: n + 2 * p }, (_, i) => {
    const j = i - p;
    return x[j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j];
  });
}

interface Framing {
  nFft: number;
  hop: number;
  center: boolean;
}

/**
 * Plain float64 STFT of rows of length t: reflect pad, periodic Hann, O(n²) DFT per frame.
 * Returns [rows, frames, nFft/2+1, 2] flattened.
 */
function refStft(x: Float64Array, t: number, { nFft, hop, center }: Framing): Float64Array {
  const rows = x.length / t;
  const bins = nFft / 2 + 1;
  const w = hann(nFft);
  const cos = Float64Array.from({ length: nFft }, (_, m) => Math.cos((2 * Math.PI * m) / nFft));
  const sin = Float64Array.from({ length: nFft }, (_, m) => Math.sin((2 * Math.PI * m) / nFft));
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * t, (r + 1) * t);
    const padded = center ? reflectPad(row, nFft / 2) : row;
    const frames = 1 + Math.floor((padded.length - nFft) / hop);
    for (let f = 0; f < frames; f++) {
      for (let k = 0; k < bins; k++) {
        let re = 0, im = 0;
        for (let j = 0; j < nFft; j++) {
          const v = padded[f * hop + j] * w[j];
          const m = (j * k) % nFft;
          re += v * cos[m];
          im -= v * sin[m];
        }
        out.push(re, im);
      }
    }
  }
  return Float64Array.from(out);
}

/**
 * Plain float64 iSTFT of [rows, frames, bins, 2]: inverse DFT per frame, × Hann, overlap-add,
 * ÷ Σ Hann² (floored at 1e-11), centre padding trimmed to `length` samples.
 */
function refIstft(
  spec: Float64Array,
  frames: number,
  length: number,
  { nFft, hop, center }: Framing,
): Float64Array {
  const bins = nFft / 2 + 1;
  const rows = spec.length / (frames * bins * 2);
  const w = hann(nFft);
  const covered = (frames - 1) * hop + nFft;
  const start = center ? nFft / 2 : 0;
  const out = new Float64Array(rows * length);
  for (let r = 0; r < rows; r++) {
    const sig = new Float64Array(covered), env = new Float64Array(covered);
    for (let f = 0; f < frames; f++) {
      const base = (r * frames + f) * bins * 2;
      for (let j = 0; j < nFft; j++) {
        let s = 0;
        for (let k = 0; k < bins; k++) {
          const th = (2 * Math.PI * ((j * k) % nFft)) / nFft;
          const re = spec[base + 2 * k], im = spec[base + 2 * k + 1];
          if (k === 0 || k === nFft / 2) s += re * Math.cos(th);
          else s += 2 * (re * Math.cos(th) - im * Math.sin(th));
        }
        sig[f * hop + j] += (s / nFft) * w[j];
        env[f * hop + j] += w[j] * w[j];
      }
    }
    for (let i = 0; i < length && start + i < covered; i++) {
      out[r * length + i] = sig[start + i] / Math.max(env[start + i], 1e-11);
    }
  }
  return out;
}

fftVariantTest("stft matches a float64 STFT (reflect pad, periodic Hann)", async () => {
  await setup();
  const t = 16000; // 1 s at 16 kHz
  for (const [nFft, hop, rows] of [[64, 16, 2], [1024, 256, 1]]) {
    await ag.tidy(async () => {
      const data = randomArray(rows * t, nFft);
      const x = ag.tensor(Float32Array.from(data), [rows, t]);
      const spec = ag.stft(x, { nFft, hop, window: "hann" });
      const frames = 1 + Math.floor(t / hop);
      assert.deepEqual(spec.shape, [rows, frames, nFft / 2 + 1, 2]);
      const ref = refStft(Float64Array.from(Float32Array.from(data)), t, {
        nFft,
        hop,
        center: true,
      });
      const err = relError(await spec.toArray(), ref);
      console.log(`stft nFft=${nFft} hop=${hop}: rel err ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `stft nFft=${nFft}: relative error ${err}`);
    });
  }
});

fftVariantTest("stft without centring, hop not dividing the length", async () => {
  await setup();
  await ag.tidy(async () => {
    const [t, nFft, hop] = [1000, 128, 100];
    const data = randomArray(3 * t, 5);
    const spec = ag.stft(ag.tensor(Float32Array.from(data), [3, t]), { nFft, hop, center: false });
    assert.deepEqual(spec.shape, [3, 9, 65, 2]);
    const ref = refStft(Float64Array.from(Float32Array.from(data)), t, {
      nFft,
      hop,
      center: false,
    });
    const err = relError(await spec.toArray(), ref);
    assert.ok(err < 1e-4, `stft center=false: relative error ${err}`);
  });
});

fftVariantTest("istft(stft(x)) recovers x", async () => {
  await setup();
  const t = 16000;
  for (const [nFft, hop] of [[64, 16], [1024, 256], [512, 128]]) {
    await ag.tidy(async () => {
      const data = Float32Array.from(randomArray(2 * t, 3 * nFft));
      const x = ag.tensor(data, [2, t]);
      const opts = { nFft, hop, window: "hann" as const };
      const y = ag.istft(ag.stft(x, opts), { ...opts, length: t });
      assert.deepEqual(y.shape, [2, t]);
      const err = relError(await y.toArray(), data);
      console.log(`istft(stft) nFft=${nFft} hop=${hop}: rel err ${err.toExponential(2)}`);
      assert.ok(err < 1e-5, `istft(stft(x)) nFft=${nFft}: relative error ${err}`);
    });
  }
});

fftVariantTest("istft matches a float64 iSTFT, with default and longer lengths", async () => {
  await setup();
  const framing = { nFft: 32, hop: 8, center: true };
  const frames = 13;
  await ag.tidy(async () => {
    const data = randomArray(3 * frames * 17 * 2, 21);
    const spec = ag.tensor(Float32Array.from(data), [3, frames, 17, 2]);
    const f64 = Float64Array.from(Float32Array.from(data));
    const natural = (frames - 1) * 8; // covered − 2·nFft/2
    const y = ag.istft(spec, { nFft: 32, hop: 8 });
    assert.deepEqual(y.shape, [3, natural]);
    const err = relError(await y.toArray(), refIstft(f64, frames, natural, framing));
    assert.ok(err < 1e-4, `istft: relative error ${err}`);
    const longer = ag.istft(spec, { nFft: 32, hop: 8, length: natural + 30 });
    const errLong = relError(
      await longer.toArray(),
      refIstft(f64, frames, natural + 30, framing),
    );
    assert.ok(errLong < 1e-4, `istft with padding: relative error ${errLong}`);
  });
});

fftVariantTest("stft gradient matches finite differences", async () => {
  await setup();
  const framing = { nFft: 16, hop: 4, center: true };
  const t = 37;
  await checkOp(
    "stft",
    [{ data: randomArray(3 * t, 8), shape: [3, t] }],
    (x) => ag.stft(x, { nFft: 16, hop: 4 }),
    (x) => refStft(x, t, framing),
  );
  // Without centring, with samples at the end that no frame covers (their gradient is 0).
  await checkOp(
    "stft center=false",
    [{ data: randomArray(2 * 43, 9), shape: [2, 43] }],
    (x) => ag.stft(x, { nFft: 16, hop: 6, center: false }),
    (x) => refStft(x, 43, { nFft: 16, hop: 6, center: false }),
  );
});

fftVariantTest("istft gradient matches finite differences", async () => {
  await setup();
  const framing = { nFft: 16, hop: 4, center: true };
  const frames = 9;
  await checkOp(
    "istft",
    [{ data: randomArray(3 * frames * 9 * 2, 10), shape: [3, frames, 9, 2] }],
    (s) => ag.istft(s, { nFft: 16, hop: 4, length: 30 }),
    (s) => refIstft(s, frames, 30, framing),
  );
});

fftVariantTest(
  "stftFrames and overlapAdd are adjoint (rectangular window, normalised)",
  async () => {
    await setup();
    const opts = { nFft: 8, hop: 3, window: "rectangular" as const, normalize: true };
    await ag.tidy(async () => {
      const x = ag.tensor(Float32Array.from(randomArray(2 * 29, 1)), [2, 29]);
      const frames = ag.stftFrames(x, opts);
      assert.deepEqual(frames.shape, [2, 8, 8]);
      const y = ag.tensor(Float32Array.from(randomArray(frames.size, 2)), frames.shape);
      const back = ag.overlapAdd(y, { ...opts, length: 29 });
      const lhs = await frames.mul(y).sum().item();
      const rhs = await x.mul(back).sum().item();
      assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.abs(lhs), `<Fx, y> ${lhs} vs <x, F*y> ${rhs}`);
      // Unnormalised rectangular frames are plain slices, and their overlap-add sums them back.
      const xs = await x.toArray();
      const plain = ag.stftFrames(x, { nFft: 8, hop: 3, window: "rectangular" });
      const ref = new Float64Array(2 * 8 * 8);
      const sum = new Float64Array(2 * 29);
      for (let b = 0; b < 2; b++) {
        for (let f = 0; f < 8; f++) {
          for (let k = 0; k < 8; k++) {
            ref[(b * 8 + f) * 8 + k] = xs[b * 29 + f * 3 + k];
            sum[b * 29 + f * 3 + k] += xs[b * 29 + f * 3 + k];
          }
        }
      }
      assert.equal(relError(await plain.toArray(), ref), 0);
      const added = ag.overlapAdd(plain, { nFft: 8, hop: 3, window: "rectangular", length: 29 });
      assert.ok(relError(await added.toArray(), sum) < 1e-6, "overlapAdd of plain frames");
    });
  },
);
