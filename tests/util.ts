/**
 * Shared test helpers: seeded random inputs, relative error, and the gradient check every op
 * test uses — GPU gradients against central finite differences of the test's own float64
 * reference. Tests turn output poisoning on, so an element a kernel forgot to write is NaN.
 * @module
 */
import assert from "node:assert/strict";
import * as ag from "../mod.ts";
import { mulberry32Next } from "../vae/data.ts";
import { relativeError } from "../web/op_checks.ts";

/** Initialises the engine once with NaN poisoning of every op output. */
export async function setup(): Promise<void> {
  await ag.init();
  ag.rt().poisonOutputs = true;
}

/** A deterministic pseudo-random stream in [0, 1) for test inputs (vae/data.ts's mulberry32). */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const [u, next] = mulberry32Next(state);
    state = next;
    return u;
  };
}

/** `n` values uniform in [lo, hi) from `seed`, as float64. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Runs a command to its end: its exit code, and its stdout and stderr as text. */
export async function commandOutput(
  command: Deno.Command,
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await command.output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

/**
 * Runs `deno run PERMISSIONS SCRIPT ARGS` in the project folder to its end (see
 * {@link commandOutput}), with XDG_RUNTIME_DIR set for the WebGPU driver.
 */
export function runScript(
  script: string,
  args: string[],
  permissions: string[],
): Promise<{ code: number; out: string; err: string }> {
  return commandOutput(
    new Deno.Command("deno", {
      args: ["run", ...permissions, script, ...args],
      cwd: new URL("../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      env: { XDG_RUNTIME_DIR: "/tmp" },
    }),
  );
}

/** Number of elements of a shape. */
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** ‖out − ref‖ / ‖ref‖ (NaN anywhere gives Infinity); lengths must agree. */
export function relError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(out.length, ref.length, `length ${out.length} vs reference ${ref.length}`);
  return relativeError(out, ref);
}

/** Asserts `relError(out, ref) < tol` with a message naming `what`. */
export function assertClose(
  out: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: number,
  what: string,
) {
  const e = relError(out, ref);
  assert.ok(e < tol, `${what}: relative error ${e.toExponential(3)} >= ${tol}`);
}

/** An input of a gradient check: its values and shape (float64 on the CPU). */
export interface CheckInput {
  data: Float64Array;
  shape: number[];
}

/**
 * Checks an op's forward against `reference` (float64, plain JS) and its gradient w.r.t. every
 * input against central finite differences of `reference`. The loss is Σ out · w with random
 * weights w, so every output element's gradient path is tested.
 */
export async function checkOp(
  name: string,
  inputs: CheckInput[],
  gpuOp: (...xs: ag.Tensor[]) => ag.Tensor,
  reference: (...xs: Float64Array[]) => Float64Array,
  opts: { forwardTol?: number; gradTol?: number; eps?: number; grad?: boolean; seed?: number } = {},
): Promise<void> {
  const forwardTol = opts.forwardTol ?? 1e-4;
  const gradTol = opts.gradTol ?? 1e-3;
  const eps = opts.eps ?? 1e-6;
  await ag.tidy(async () => {
    const xs = inputs.map((i) =>
      ag.tensor(Float32Array.from(i.data), i.shape, { requiresGrad: true })
    );
    // Reference on the f32-rounded inputs, so only the op's own error is measured.
    const xs64 = inputs.map((i) => Float64Array.from(Float32Array.from(i.data)));
    const out = gpuOp(...xs);
    const ref = reference(...xs64);
    const got = await out.toArray();
    assertClose(got, ref, forwardTol, `${name} forward`);
    if (opts.grad === false) return;
    const w = randomArray(ref.length, opts.seed ?? 99);
    const loss = out.mul(ag.tensor(Float32Array.from(w), out.shape)).sum();
    loss.backward();
    for (let k = 0; k < xs.length; k++) {
      const fd = new Float64Array(xs64[k].length);
      for (let j = 0; j < fd.length; j++) {
        const orig = xs64[k][j];
        xs64[k][j] = orig + eps;
        const up = dot(reference(...xs64), w);
        xs64[k][j] = orig - eps;
        const down = dot(reference(...xs64), w);
        xs64[k][j] = orig;
        fd[j] = (up - down) / (2 * eps);
      }
      assert.ok(xs[k].grad, `${name}: input ${k} got no gradient`);
      assertClose(await xs[k].grad!.toArray(), fd, gradTol, `${name} gradient of input ${k}`);
    }
    for (const x of xs) x.grad?.dispose();
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}
