/**
 * fp32 matmul, ours (`matmul`) against TensorFlow.js WebGPU (`tf.matMul`) on the same adapter.
 * Run: `deno task bench` (all benches) or `deno bench --allow-read=. --allow-env bench/matmul_bench.ts`.
 * GFLOP/s (2·M·N·K per product) are printed by `bench/report.ts`.
 * @module
 */
import * as ag from "../engine/mod.ts";
import {
  type BenchCase,
  oursSync,
  peerSync,
  randomF32,
  registerBenches,
  relError,
  tf,
} from "./peer.ts";

/** M×K · K×N, repeated `reps` times per timed run so that small sizes are not all latency. */
function matmulCase(m: number, k: number, n: number, reps: number, label: string): BenchCase {
  return {
    group: `matmul ${label}`,
    label: `matmul ${label} ×${reps}`,
    work: 2 * m * n * k * reps,
    unit: "GFLOP/s",
    contestants: [{ name: "ours" }, { name: "tfjs-webgpu" }],
    async setup() {
      const ad = randomF32(m * k, 1), bd = randomF32(k * n, 2);
      const a = ag.tensor(ad, [m, k]), b = ag.tensor(bd, [k, n]);
      const ta = tf.tensor2d(ad, [m, k]), tb = tf.tensor2d(bd, [k, n]);
      // Warm-up (pipeline compile, upload) and agreement check, outside any timing.
      const c = ag.matmul(a, b);
      const tc = tf.matMul(ta, tb);
      const err = relError(await c.toArray(), await tc.data());
      c.dispose();
      tc.dispose();
      if (err > 1e-4) throw new Error(`matmul ${label}: ours vs tfjs differ (rel ${err})`);
      const ours = async () => {
        for (let i = 0; i < reps; i++) ag.matmul(a, b).dispose();
        await oursSync();
      };
      const peer = async () => {
        for (let i = 0; i < reps; i++) tf.matMul(ta, tb).dispose();
        await peerSync();
      };
      return [ours, peer];
    },
  };
}

/** The cases, shared with bench/report.ts. */
export const cases: BenchCase[] = [
  matmulCase(256, 256, 256, 16, "256²"),
  matmulCase(512, 512, 512, 4, "512²"),
  matmulCase(1024, 1024, 1024, 1, "1024²"),
  matmulCase(4096, 256, 256, 2, "4096×256·256×256"),
];

registerBenches(cases);
