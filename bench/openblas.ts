/**
 * OpenBLAS `cblas_sgemm` on this machine's CPU: the ceiling the matmul figures are compared with
 * (issue 6). `openblasGflops(m, k, n, reps)` builds `bench/openblas_sgemm.c` into
 * `out/bench/openblas_sgemm` with `gcc … -lopenblas` when the binary is missing or older than the
 * source, runs it and returns its GFLOP/s (median of 5 runs of `reps` products, after a warm-up).
 * Where gcc or the library is missing, or the permissions to build and run it were not given, it
 * returns null and prints one message on stderr saying that the OpenBLAS row is skipped and how to
 * enable it (`apt-get install libopenblas-dev`).
 *
 * Run directly for a Markdown table of the bench matmul shapes:
 * `deno task bench:openblas`, i.e.
 * `deno run --allow-read=. --allow-write=out --allow-run=gcc,out/bench/openblas_sgemm bench/openblas.ts`
 * (from the repository root: the permission paths are relative to it).
 * @module
 */

/** Where the C source and the binary live, as paths relative to the repository root. */
export const OPENBLAS_SOURCE = "bench/openblas_sgemm.c";
export const OPENBLAS_BINARY = "out/bench/openblas_sgemm";

/** What `out/bench/openblas_sgemm M K N reps` prints (one line of JSON). */
export interface OpenblasResult {
  m: number;
  k: number;
  n: number;
  reps: number;
  /** Median seconds of one timed run (`reps` products). */
  seconds: number;
  /** 2·M·N·K·reps / seconds / 1e9. */
  gflops: number;
  /** `openblas_get_num_threads()`. */
  threads: number;
  /** `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 … Haswell MAX_THREADS=64". */
  config: string;
}

/** The matmul shapes of bench/matmul_bench.ts (`cases` and `largeCases`), with their labels. */
export const OPENBLAS_CASES: { label: string; m: number; k: number; n: number; reps: number }[] = [
  { label: "matmul 256² ×16", m: 256, k: 256, n: 256, reps: 16 },
  { label: "matmul 512² ×4", m: 512, k: 512, n: 512, reps: 4 },
  { label: "matmul 1024²", m: 1024, k: 1024, n: 1024, reps: 1 },
  { label: "matmul 4096×256·256×256 ×2", m: 4096, k: 256, n: 256, reps: 2 },
  { label: "matmul 4096²", m: 4096, k: 4096, n: 4096, reps: 1 },
];

const HOW_TO_ENABLE =
  "to enable it: apt-get install libopenblas-dev (and gcc), then run from the " +
  "repository root with --allow-read=. --allow-write=out " +
  `--allow-run=gcc,${OPENBLAS_BINARY} (deno task bench:openblas)`;

let warned = false;
/** Prints the skip message once per process, however many shapes ask. */
function skip(reason: string): null {
  if (!warned) {
    warned = true;
    console.error(`OpenBLAS row skipped: ${reason}; ${HOW_TO_ENABLE}.`);
  }
  return null;
}

function describe(e: unknown, program: string): string {
  if (e instanceof Deno.errors.NotFound) return `${program} not found`;
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return `no permission (${(e as Error).message.split("\n")[0]})`;
  }
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}

async function mtime(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Builds the binary if it is missing or older than the source; returns null when it is ready. */
async function build(): Promise<string | null> {
  try {
    const src = await mtime(OPENBLAS_SOURCE);
    if (src === null) return `${OPENBLAS_SOURCE} not found (run from the repository root)`;
    const bin = await mtime(OPENBLAS_BINARY);
    if (bin !== null && bin >= src) return null;
    await Deno.mkdir("out/bench", { recursive: true });
    const out = await new Deno.Command("gcc", {
      args: ["-O2", "-o", OPENBLAS_BINARY, OPENBLAS_SOURCE, "-lopenblas"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
      const log = lines.find((l) => /error|cannot find|undefined reference/i.test(l)) ?? lines[0];
      return `gcc -lopenblas failed (is libopenblas-dev installed? ${log.trim()})`;
    }
    return null;
  } catch (e) {
    return describe(e, "gcc");
  }
}

let built: Promise<string | null> | undefined;

/**
 * Runs the OpenBLAS sgemm bench for one shape (building it first if needed). Returns null, with
 * one message on stderr, when it cannot be built or run here.
 */
export async function openblasSgemm(
  m: number,
  k: number,
  n: number,
  reps: number,
): Promise<OpenblasResult | null> {
  built ??= build();
  const failure = await built;
  if (failure !== null) return skip(failure);
  try {
    const out = await new Deno.Command(OPENBLAS_BINARY, {
      args: [m, k, n, reps].map(String),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const log = new TextDecoder().decode(out.stderr).trim();
      return skip(`${OPENBLAS_BINARY} failed (exit ${out.code}: ${log})`);
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as OpenblasResult;
  } catch (e) {
    return skip(describe(e, OPENBLAS_BINARY));
  }
}

/**
 * GFLOP/s of OpenBLAS `cblas_sgemm` for `reps` products M×K · K×N on this machine's CPU (median of
 * 5 runs), or null (with one message on stderr) where gcc or OpenBLAS is missing.
 */
export async function openblasGflops(
  m: number,
  k: number,
  n: number,
  reps: number,
): Promise<number | null> {
  return (await openblasSgemm(m, k, n, reps))?.gflops ?? null;
}

function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

if (import.meta.main) {
  const rows: string[] = [];
  let header = "";
  for (const c of OPENBLAS_CASES) {
    const r = await openblasSgemm(c.m, c.k, c.n, c.reps);
    if (r === null) Deno.exit(1);
    header ||= `${r.config}; threads ${r.threads}`;
    rows.push(`| ${c.label} | ${r.reps} | ${fmt(r.seconds * 1e3)} | ${fmt(r.gflops)} |`);
  }
  console.log(`date: ${new Date().toISOString().slice(0, 10)}`);
  console.log(header);
  console.log();
  console.log("| case | products per run | ms/run (median of 5) | GFLOP/s |");
  console.log("| --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}
