/**
 * Prints the bench table (ours and peer throughput, ratio ours/peer) with a manual timing loop
 * over the same cases as the `deno bench` files: one warm-up run each, then the median of n runs,
 * the contestants taking turns run by run (see `timeInterleaved` in bench/peer.ts).
 *
 * Run: `deno run --allow-read=. --allow-env bench/report.ts [matmul] [conv1d] [rfft]`
 * (no argument: all but matmul_large). Prints a Markdown table ready for bench/README.md. With
 * `--allow-write=out --allow-run=gcc,out/bench/openblas_sgemm` (`deno task bench:report`) each
 * matmul row also gets OpenBLAS sgemm on the CPU (bench/openblas.ts) and ours as a % of it.
 * @module
 */
import { adapterReport } from "../engine/mod.ts";
import { openblasSgemm } from "./openblas.ts";
import { type BenchCase, DEFAULT_RUNS, initBoth, timeInterleaved } from "./peer.ts";

const suites: Record<string, () => Promise<BenchCase[]>> = {
  matmul: async () => (await import("./matmul_bench.ts")).cases,
  matmul_large: async () => (await import("./matmul_bench.ts")).largeCases,
  conv1d: async () => (await import("./conv1d_bench.ts")).cases,
  rfft: async () => (await import("./rfft_bench.ts")).cases,
  train_step: async () => (await import("./train_step_bench.ts")).cases,
  conv_transpose1d: async () => (await import("./conv_transpose1d_bench.ts")).cases,
  adam: async () => (await import("./adam_bench.ts")).cases,
  vocoder: async () => (await import("./vocoder_bench.ts")).cases,
};

function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** Suites left out when no argument names them (too slow for a CPU adapter). */
const onRequest = new Set(["matmul_large", "vocoder"]);
const wanted = Deno.args.length ? Deno.args : Object.keys(suites).filter((s) => !onRequest.has(s));
const env = await initBoth();
const report = await adapterReport();
console.log(`date: ${new Date().toISOString().slice(0, 10)}`);
console.log(
  `adapter (ours): ${report.description} — vendor ${report.vendor}, backend ${report.backend}`,
);
console.log(`adapter (tfjs): ${env.peer}`);
console.log();
console.log("| case | contestant | runs | ms/run (median) | throughput | ours ÷ this (speed) |");
console.log("|---|---|---|---|---|---|");
for (const name of wanted) {
  const load = suites[name];
  if (!load) throw new Error(`unknown suite '${name}' (have: ${Object.keys(suites).join(", ")})`);
  for (const c of await load()) {
    const runs = await c.setup();
    const secs = await timeInterleaved(runs, c.contestants.map((k) => k.n ?? DEFAULT_RUNS));
    const scale = c.unit === "GFLOP/s" ? 1e-9 : 1;
    c.contestants.forEach((k, i) => {
      const thr = (c.work * scale) / secs[i];
      const ratio = i === 0 ? "" : `${fmt(secs[i] / secs[0])}×`;
      const note = k.note ? ` (${k.note})` : "";
      console.log(
        `| ${c.label} | ${k.name}${note} | ${k.n ?? DEFAULT_RUNS} | ${fmt(secs[i] * 1000)} | ` +
          `${fmt(thr)} ${c.unit} | ${ratio} |`,
      );
    });
    for (const ref of c.references ?? []) {
      const ours = (c.work * scale) / secs[0];
      console.log(
        `| ${c.label} | ${ref.name} | — | ${fmt((c.work * scale * 1000) / ref.throughput)} | ` +
          `${fmt(ref.throughput)} ${c.unit} | ${fmt(ours / ref.throughput)}× (ours = ${
            ((100 * ours) / ref.throughput).toFixed(1)
          } % of it) |`,
      );
    }
    // The CPU's ceiling beside each matmul row, when this run may build and start the C bench.
    if (
      c.sgemm && (await Deno.permissions.query({ name: "run", command: "gcc" })).state === "granted"
    ) {
      const blas = await openblasSgemm(c.sgemm.m, c.sgemm.k, c.sgemm.n, c.sgemm.reps);
      if (blas) {
        const ours = (c.work * 1e-9) / secs[0];
        console.log(
          `| ${c.label} | OpenBLAS sgemm (C, ${blas.threads} CPU threads) | 5 | ` +
            `${fmt((c.work * 1e-9 * 1000) / blas.gflops)} | ${fmt(blas.gflops)} GFLOP/s | ` +
            `${fmt(ours / blas.gflops)}× (ours = ${
              ((100 * ours) / blas.gflops).toFixed(1)
            } % of it) |`,
        );
      }
    }
  }
}
