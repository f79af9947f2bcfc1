/**
 * fp32 matmul, ours (`matmul`) against TensorFlow.js WebGPU (`tf.matMul`) on the same adapter.
 * Run: `deno task bench` (all benches) or `deno bench --allow-read=. --allow-env bench/matmul_bench.ts`.
 * GFLOP/s (2·M·N·K per product) are printed by `bench/report.ts`.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { checkAgreement, peerCase, randomF32, registerBenches, tf } from "./peer.ts";

/** M×K · K×N, repeated `reps` times per timed run so that small sizes are not all latency. */
function matmulCase(m: number, k: number, n: number, reps: number, label: string) {
  return peerCase({
    label: `matmul ${label}`,
    workPerOp: 2 * m * n * k,
    unit: "GFLOP/s",
    reps,
    sgemm: { m, k, n, reps },
    async setup() {
      const ad = randomF32(m * k, 1), bd = randomF32(k * n, 2);
      const a = ag.tensor(ad, [m, k]), b = ag.tensor(bd, [k, n]);
      const ta = tf.tensor2d(ad, [m, k]), tb = tf.tensor2d(bd, [k, n]);
      // Warm-up (pipeline compile, upload) and agreement check, outside any timing.
      const c = ag.matmul(a, b);
      const tc = tf.matMul(ta, tb);
      checkAgreement(`matmul ${label}`, await c.toArray(), await tc.data(), 1e-4);
      c.dispose();
      tc.dispose();
      return {
        ours: () => ag.matmul(a, b).dispose(),
        peer: () => tf.matMul(ta, tb).dispose(),
      };
    },
  });
}

/** The cases, shared with bench/report.ts. */
export const cases = [
  matmulCase(256, 256, 256, 16, "256²"),
  matmulCase(512, 512, 512, 4, "512²"),
  matmulCase(1024, 1024, 1024, 1, "1024²"),
  matmulCase(4096, 256, 256, 2, "4096×256·256×256"),
];

/**
 * The 4096² product the issue measures against a GPU's fp32 peak: 137 GFLOP, about 10 s per run on
 * lavapipe, so it is its own suite (`bench/report.ts matmul_large`) and not in `deno task bench`.
 */
export const largeCases = [matmulCase(4096, 4096, 4096, 1, "4096²")];

registerBenches(cases);
