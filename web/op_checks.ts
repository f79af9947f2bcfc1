/**
 * A handful of the engine's op checks that run the same way in Deno and in a browser page
 * ("Check this GPU" on the page, and the browser tests): each op runs on the GPU on seeded
 * random inputs of odd, non-tile-multiple shapes; its forward output is compared with a float64
 * reference written plainly here, and its gradients (of the loss Σ out · w, random w) with
 * central finite differences of that reference. The raw GPU values are returned too, so that
 * two adapters (lavapipe in Deno, SwiftShader in Chromium) can be compared value by value.
 * Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { mulberry32Next } from "../vae/data.ts";

/** Forward tolerance (relative L2 error vs the float64 reference), as in ARCHITECTURE.md. */
export const FORWARD_TOLERANCE = 1e-4;
/** Gradient tolerance (relative L2 error vs central finite differences of the reference). */
export const GRADIENT_TOLERANCE = 1e-3;

interface Input {
  shape: number[];
  data: Float64Array;
}

interface OpCheck {
  name: string;
  inputs: Input[];
  gpu(...xs: ag.Tensor[]): ag.Tensor;
  reference(...xs: Float64Array[]): Float64Array;
}

/** What one check measured. */
export interface OpCheckResult {
  name: string;
  /** The GPU's forward output. */
  forward: Float32Array;
  /** The GPU's gradient of Σ out · w with respect to each input. */
  gradients: Float32Array[];
  /** ‖forward − reference‖ / ‖reference‖. */
  forwardError: number;
  /** The largest such error over the inputs' gradients vs finite differences. */
  gradientError: number;
  passed: boolean;
}

/** `n` seeded values uniform in [lo, hi). */
function uniform(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let state = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [u, s] = mulberry32Next(state);
    state = s;
    out[i] = lo + (hi - lo) * u;
  }
  return out;
}

function input(shape: number[], seed: number, lo = -1, hi = 1): Input {
  return { shape, data: uniform(shape.reduce((a, b) => a * b, 1), seed, lo, hi) };
}

/** ‖a − b‖ / ‖b‖ (a non-finite value in `a` gives Infinity). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** erf by its Maclaurin series, accurate to ~1e-12 for |x| ≤ 4 (the inputs here stay in ±3). */
function erf(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** out[b, o, t] of a 1-D convolution [B, C, L] * [O, C, K] (no bias). */
function conv1dReference(
  x: Float64Array,
  w: Float64Array,
  [batch, cin, length]: number[],
  [cout, , kernel]: number[],
  stride: number,
  padding: number,
): Float64Array {
  const lout = Math.floor((length + 2 * padding - kernel) / stride) + 1;
  const out = new Float64Array(batch * cout * lout);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < cout; o++) {
      for (let t = 0; t < lout; t++) {
        let s = 0;
        for (let c = 0; c < cin; c++) {
          for (let k = 0; k < kernel; k++) {
            const i = t * stride - padding + k;
            if (i >= 0 && i < length) {
              s += x[(b * cin + c) * length + i] * w[(o * cin + c) * kernel + k];
            }
          }
        }
        out[(b * cout + o) * lout + t] = s;
      }
    }
  }
  return out;
}

/** A transposed 1-D convolution [B, C, L] * [C, O, K]: each input scatters into the output. */
function convTranspose1dReference(
  x: Float64Array,
  w: Float64Array,
  [batch, cin, length]: number[],
  [, cout, kernel]: number[],
  stride: number,
  padding: number,
): Float64Array {
  const lout = (length - 1) * stride - 2 * padding + kernel;
  const out = new Float64Array(batch * cout * lout);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < cin; c++) {
      for (let i = 0; i < length; i++) {
        for (let o = 0; o < cout; o++) {
          for (let k = 0; k < kernel; k++) {
            const t = i * stride - padding + k;
            if (t >= 0 && t < lout) {
              out[(b * cout + o) * lout + t] += x[(b * cin + c) * length + i] *
                w[(c * cout + o) * kernel + k];
            }
          }
        }
      }
    }
  }
  return out;
}

/** The checks: shapes are odd on purpose (no tile divides them). */
export function opChecks(): OpCheck[] {
  const xConv = [2, 3, 11], wConv = [4, 3, 3];
  const xT = [2, 4, 6], wT = [4, 3, 4];
  return [
    {
      name: "matmul [5, 7] · [7, 3]",
      inputs: [input([5, 7], 11), input([7, 3], 12)],
      gpu: (a, b) => ag.matmul(a, b),
      reference: (a, b) => {
        const out = new Float64Array(15);
        for (let i = 0; i < 5; i++) {
          for (let j = 0; j < 3; j++) {
            for (let k = 0; k < 7; k++) out[i * 3 + j] += a[i * 7 + k] * b[k * 3 + j];
          }
        }
        return out;
      },
    },
    {
      name: "conv1d [2, 3, 11] * [4, 3, 3], stride 2, padding 1",
      inputs: [input(xConv, 21), input(wConv, 22)],
      gpu: (x, w) => ag.conv1d(x, w, null, { stride: 2, padding: 1 }),
      reference: (x, w) => conv1dReference(x, w, xConv, wConv, 2, 1),
    },
    {
      name: "convTranspose1d [2, 4, 6] * [4, 3, 4], stride 2, padding 1",
      inputs: [input(xT, 31), input(wT, 32)],
      gpu: (x, w) => ag.convTranspose1d(x, w, null, { stride: 2, padding: 1 }),
      reference: (x, w) => convTranspose1dReference(x, w, xT, wT, 2, 1),
    },
    {
      name: "gelu [37]",
      inputs: [input([37], 41, -3, 3)],
      gpu: (x) => x.gelu(),
      reference: (x) => x.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
    },
    {
      name: "logsumexp over axis 1 of [3, 9]",
      inputs: [input([3, 9], 51, -2, 2)],
      gpu: (x) => ag.logsumexp(x, 1),
      reference: (x) => {
        const out = new Float64Array(3);
        for (let i = 0; i < 3; i++) {
          let s = 0;
          for (let j = 0; j < 9; j++) s += Math.exp(x[i * 9 + j]);
          out[i] = Math.log(s);
        }
        return out;
      },
    },
    {
      name: "div [4, 5] / [5] (broadcast)",
      inputs: [input([4, 5], 61), input([5], 62, 0.5, 2)],
      gpu: (a, b) => a.div(b),
      reference: (a, b) => a.map((v, i) => v / b[i % 5]),
    },
  ];
}

/** Σ out · w of the reference, for finite differences. */
function weightedSum(check: OpCheck, xs: Float64Array[], w: Float64Array): number {
  const out = check.reference(...xs);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * w[i];
  return s;
}

/** Runs one check on the GPU and against its reference. */
export async function runOpCheck(check: OpCheck, seed: number): Promise<OpCheckResult> {
  const ref = check.reference(...check.inputs.map((x) => x.data));
  const w = uniform(ref.length, seed);
  const { forward, gradients } = await ag.tidy(async () => {
    const xs = check.inputs.map((x) =>
      ag.tensor(Float32Array.from(x.data), x.shape, { requiresGrad: true })
    );
    const out = check.gpu(...xs);
    const loss = out.reshape([out.size]).mul(ag.tensor(Float32Array.from(w), [out.size])).sum();
    loss.backward();
    return {
      forward: await out.toArray(),
      gradients: await Promise.all(xs.map((x) => x.grad!.toArray())),
    };
  });
  let gradientError = 0;
  const eps = 1e-6;
  check.inputs.forEach((x, k) => {
    const xs = check.inputs.map((i) => i.data.slice());
    const numeric = new Float64Array(x.data.length);
    for (let i = 0; i < x.data.length; i++) {
      const v = xs[k][i];
      xs[k][i] = v + eps;
      const up = weightedSum(check, xs, w);
      xs[k][i] = v - eps;
      const down = weightedSum(check, xs, w);
      xs[k][i] = v;
      numeric[i] = (up - down) / (2 * eps);
    }
    gradientError = Math.max(gradientError, relativeError(gradients[k], numeric));
  });
  const forwardError = relativeError(forward, ref);
  return {
    name: check.name,
    forward,
    gradients,
    forwardError,
    gradientError,
    passed: forwardError < FORWARD_TOLERANCE && gradientError < GRADIENT_TOLERANCE,
  };
}

/** Runs every check (the engine must be initialised). */
export async function runOpChecks(): Promise<OpCheckResult[]> {
  const results: OpCheckResult[] = [];
  let seed = 1000;
  for (const check of opChecks()) results.push(await runOpCheck(check, seed++));
  return results;
}
