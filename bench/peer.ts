/**
 * Bench helpers: the TensorFlow.js WebGPU peer, equally honest completion waits for both sides,
 * seeded inputs, a manual timing loop and the case registry shared by the `deno bench` files and
 * `bench/report.ts`.
 *
 * Timing rules (both sides alike): inputs are uploaded and every pipeline compiled before timing
 * (warm-up excluded); a timed run records `reps` ops and then waits until the GPU queue is idle
 * (`queue.onSubmittedWorkDone()` after submitting everything recorded), so neither side reads
 * results back and neither side stops the clock before the GPU is done. Outputs are disposed
 * inside the timed region on both sides (it is cheap bookkeeping).
 *
 * The peer runs on its own `GPUDevice` acquired by tfjs-backend-webgpu from the default
 * `navigator.gpu` adapter; {@link initBoth} reports both adapters and warns if they differ.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import * as ag from "../engine/mod.ts";
import { mulberry32Next } from "../vae/data.ts";

export { tf };

/** What {@link initBoth} found. */
export interface BenchEnv {
  /** Our adapter (`adapterReport().description`). */
  ours: string;
  /** The adapter tfjs gets from `navigator.gpu.requestAdapter()`. */
  peer: string;
}

let envPromise: Promise<BenchEnv> | null = null;

/** Initialises our engine and the tfjs WebGPU backend (once per process). */
export function initBoth(): Promise<BenchEnv> {
  envPromise ??= (async () => {
    await ag.init();
    const report = await ag.adapterReport();
    if (!(await tf.setBackend("webgpu"))) {
      throw new Error("tfjs: setBackend('webgpu') failed (navigator.gpu missing?)");
    }
    await tf.ready();
    // tfjs asks for a high-performance adapter; with one adapter both sides get the same one.
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    const peer = adapter?.info?.description ?? "?";
    if (peer !== report.description) {
      console.warn(`bench: tfjs's adapter (${peer}) is not ours (${report.description})`);
    }
    return { ours: report.description, peer };
  })();
  return envPromise;
}

function peerBackend(): WebGPUBackend {
  return tf.backend() as unknown as WebGPUBackend;
}

/** Our side: submit everything recorded, wait until the GPU has finished it. */
export function oursSync(): Promise<void> {
  return ag.rt().sync();
}

/**
 * The peer's side of the same wait: end tfjs's open compute pass, submit its pending command
 * encoder (tfjs batches 15 dispatches per submit) and wait until its queue is idle.
 */
export function peerSync(): Promise<void> {
  const b = peerBackend();
  b.endComputePassEncoder();
  b.ensureCommandEncoderReady();
  b.submitQueue();
  return b.queue.onSubmittedWorkDone();
}

/**
 * Multiplies every case's repetitions per timed run (`AUDIO_GEN_BENCH_REPS`, default 1). A queue
 * wait costs about 10 ms on lavapipe and on NVIDIA's Vulkan driver alike, whatever the work, so on
 * a real GPU single ops measure that wait, not the kernel: bench/gpu_run.sh sets 64 there.
 */
const REPS_SCALE = Math.max(
  1,
  Math.floor(Number(Deno.env.get("AUDIO_GEN_BENCH_REPS") ?? 1)),
);

/** `op` `n` times (one that returns a promise is awaited before the next), then `sync`. */
function timedRun(
  op: () => void | Promise<unknown>,
  sync: () => Promise<void>,
  n: number,
): () => Promise<void> {
  return async () => {
    for (let i = 0; i < n; i++) {
      const pending = op();
      if (pending instanceof Promise) await pending;
    }
    await sync();
  };
}

/** A deterministic pseudo-random Float32Array in [-1, 1) (vae/data.ts's mulberry32). */
export function randomF32(n: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [u, next] = mulberry32Next(state);
    state = next;
    out[i] = u * 2 - 1;
  }
  return out;
}

/** Largest |x − y| / (max |y| over the array), for a sanity check of ours against the peer. */
export function relError(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new Error(`relError: lengths ${x.length} vs ${y.length}`);
  let scale = 0, err = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]));
  for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(x[i] - y[i]));
  return err / (scale || 1);
}

/** One contestant of a case, known before setup (Deno.bench needs names up front). */
export interface Contestant {
  /** Label, e.g. "ours", "tfjs-webgpu", "fft.js (CPU)". */
  name: string;
  /** Timed runs in Deno.bench and report.ts (default 8); 1 for very slow contestants. */
  n?: number;
  /** Note shown in the report (e.g. "1 run: slow"). */
  note?: string;
}

/** One bench case: the same work done by ours (first contestant) and its peers. */
export interface BenchCase {
  group: string;
  /** Human description of the problem size. */
  label: string;
  /** Work per run, in the case's unit (FLOPs for GFLOP/s, frames or parameters otherwise). */
  work: number;
  unit: "GFLOP/s" | "frames/s" | "Mparam/s";
  /** Ours first, then the peers; the second one is the Deno.bench baseline. */
  contestants: Contestant[];
  /** For matmul cases: the product, timed also with OpenBLAS on the CPU by bench/report.ts. */
  sgemm?: { m: number; k: number; n: number; reps: number };
  /**
   * Fixed figures measured elsewhere (in the case's unit), shown beside ours by bench/report.ts
   * with ours as a ratio of them; nothing is run for them.
   */
  references?: { name: string; throughput: number }[];
  /**
   * Uploads inputs, warms every contestant up, checks ours against a peer, and returns one run
   * function per contestant (same order); a run does the case's work and waits for completion.
   */
  setup: () => Promise<Array<() => Promise<void>>>;
}

/** Throws, naming the case, when ours and the peer's output differ by more than `tol` (relError). */
export function checkAgreement(
  what: string,
  ours: ArrayLike<number>,
  peer: ArrayLike<number>,
  tol: number,
): number {
  const err = relError(ours, peer);
  if (!(err <= tol)) throw new Error(`${what}: ours vs peer differ (rel ${err} > ${tol})`);
  return err;
}

/** One op of each side, ready to time (inputs uploaded, pipelines compiled, outputs checked). */
export interface PeerOps {
  ours: () => void | Promise<unknown>;
  peer: () => void | Promise<unknown>;
}

/** What differs between the cases of ours against one peer (see {@link peerCase}). */
export interface PeerCaseSpec {
  /** The problem, e.g. `matmul 256²`: the Deno.bench group and, with the op count, the label. */
  label: string;
  /** The group, when it says more than the label (e.g. which peer). */
  group?: string;
  /** Work of one op, in `unit`'s numerator (FLOPs, frames, Mparams). */
  workPerOp: number;
  unit: BenchCase["unit"];
  /** Ops per timed run before REPS_SCALE (default 1). */
  reps?: number;
  /** Whether REPS_SCALE multiplies the ops of a run (default true; false for whole steps). */
  scaled?: boolean;
  /** The peer (default `tfjs-webgpu`, waited for with {@link peerSync}). */
  peer?: Contestant & { sync?: () => Promise<void> };
  sgemm?: BenchCase["sgemm"];
  references?: BenchCase["references"];
  /** Uploads, warms both sides up and checks them against each other; none of it timed. */
  setup: () => Promise<PeerOps>;
}

/**
 * A {@link BenchCase} of ours against one peer: the label marked with the ops per run, the work
 * scaled to them, and a setup that drains both queues after the spec's own setup, so timing
 * starts idle.
 */
export function peerCase(spec: PeerCaseSpec): BenchCase {
  const reps = spec.reps ?? 1;
  const scale = spec.scaled === false ? 1 : REPS_SCALE;
  const { sync: peerWait = peerSync, ...peer } = spec.peer ?? { name: "tfjs-webgpu" };
  return {
    group: spec.group ?? spec.label,
    label: spec.label + (reps * scale > 1 ? ` ×${reps * scale}` : ""),
    work: spec.workPerOp * reps * scale,
    unit: spec.unit,
    contestants: [{ name: "ours" }, peer],
    sgemm: spec.sgemm,
    references: spec.references,
    async setup() {
      const ops = await spec.setup();
      await Promise.all([oursSync(), peerWait()]);
      const n = reps * scale;
      return [timedRun(ops.ours, oursSync, n), timedRun(ops.peer, peerWait, n)];
    },
  };
}

/** Registers `cases` with Deno.bench (a no-op under `deno run`); the first peer is baseline. */
export function registerBenches(cases: BenchCase[]): void {
  for (const c of cases) {
    // Set up lazily, once, on first use by any contestant of the case (outside the timing).
    let ready: Promise<Array<() => Promise<void>>> | null = null;
    const get = () => (ready ??= initBoth().then(() => c.setup()));
    c.contestants.forEach((k, i) => {
      Deno.bench({
        name: `${c.label} ${k.name}${k.note ? ` (${k.note})` : ""}`,
        group: c.group,
        baseline: i === 1,
        n: k.n ?? DEFAULT_RUNS,
        warmup: 1,
        async fn(b) {
          const run = (await get())[i];
          b.start();
          await run();
          b.end();
        },
      });
    });
  }
}

/** Timed runs per contestant unless it says otherwise. */
export const DEFAULT_RUNS = 5;

/**
 * Median seconds per run of each contestant: one warm-up run each, then rounds that run every
 * contestant in turn (a contestant with fewer runs drops out of later rounds), so that load from
 * other processes on a shared machine falls on all sides alike.
 */
export async function timeInterleaved(
  runs: Array<() => Promise<void>>,
  counts: number[],
): Promise<number[]> {
  for (const run of runs) await run();
  const times: number[][] = runs.map(() => []);
  const rounds = Math.max(...counts);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < runs.length; i++) {
      if (r >= counts[i]) continue;
      const t0 = performance.now();
      await runs[i]();
      times[i].push((performance.now() - t0) / 1000);
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    const m = t.length >> 1;
    return t.length % 2 ? t[m] : (t[m - 1] + t[m]) / 2;
  });
}
