/**
 * A small autotuner for the register-blocked kernels (matmul, conv): for a (kernel, shape class)
 * key it times a few candidate tile configurations on the GPU, keeps the fastest in memory and,
 * through a pluggable {@link TuneStore}, remembers it across runs (the Deno edge stores JSON per
 * adapter: cli/tune_store.ts).
 *
 * Tuning is opt-in and never happens behind an op's back: ops ask {@link tunedChoice} for a
 * config synchronously and use their untuned default when there is none; once
 * {@link enableAutotune} has been called they also note the key and a representative problem,
 * and {@link tunePending} (async) times the noted keys. Without it every run is deterministic.
 * The state (on, store, choices, noted keys) is the runtime's (`rt().autotune`), not this
 * module's; each op passes its {@link Tunable} itself, so there is no registry either.
 *
 * Portable: no `Deno.*`; timing uses `performance.now()` around `rt().sync()`.
 * @module
 */
import { rt } from "./runtime.ts";

/**
 * Tile shape of a register-blocked kernel (its override constants BM, BN, WG_X, WG_Y): one
 * invocation computes a `bm` × `bn` block of the output, a workgroup of `wgX` × `wgY`
 * invocations a (wgY·bm) × (wgX·bn) tile.
 */
export interface TileConfig {
  bm: 4 | 8 | 16;
  bn: 4 | 8 | 16;
  wgX: number;
  wgY: number;
}

/**
 * The tile configurations the autotuner times and the tests run (every kernel supports all):
 * each block size 4, 8 and 16 on both axes, in the workgroups that measured best on lavapipe
 * (WG_X ≥ 8 keeps its 8 SIMD lanes on one block row). 32 × 32 blocks ran faster still (about
 * 1.4× 16 × 16 on a 1024² matmul) but took 15–50 s to compile per pipeline: not offered.
 */
export const TILE_CONFIGS: readonly TileConfig[] = [
  { bm: 4, bn: 4, wgX: 8, wgY: 2 },
  { bm: 8, bn: 8, wgX: 16, wgY: 4 },
  { bm: 8, bn: 16, wgX: 8, wgY: 2 },
  { bm: 16, bn: 8, wgX: 8, wgY: 2 },
  { bm: 16, bn: 16, wgX: 8, wgY: 2 },
];

/** "bm×bn/wgX×wgY", e.g. "16x16/8x2": a config's name in stores, logs and test names. */
export function tileName(c: TileConfig): string {
  return `${c.bm}x${c.bn}/${c.wgX}x${c.wgY}`;
}

/** The candidate named `name`, or undefined (a stale or foreign stored value). */
export function tileByName(name: unknown): TileConfig | undefined {
  return TILE_CONFIGS.find((c) => tileName(c) === name);
}

/** Power-of-4 size bucket of a problem dimension, for shape classes ("≤16", …, "≤4096", ">4096"). */
export function sizeBucket(x: number): string {
  for (const b of [16, 64, 256, 1024, 4096]) if (x <= b) return `${b}`;
  return "big";
}

/**
 * Where tuned choices persist: JSON values by key ("kernel/shape class"). One store holds one
 * adapter's choices (the edge picks the store by adapter).
 */
export interface TuneStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

/** A {@link TuneStore} in memory (tests, browsers without storage). */
export class MemoryTuneStore implements TuneStore {
  readonly data: Map<string, unknown> = new Map();
  get(key: string): Promise<unknown> {
    return Promise.resolve(this.data.get(key));
  }
  set(key: string, value: unknown): Promise<void> {
    this.data.set(key, value);
    return Promise.resolve();
  }
}

/**
 * A kernel the autotuner can time: `prepare` makes inputs for a problem and returns a runner.
 * Each tunable op exports one (e.g. MATMUL_TUNABLE) and passes it to {@link tunedChoice}.
 */
export interface Tunable<P> {
  kernel: string;
  candidates: readonly TileConfig[];
  /** Allocates inputs for `problem`; `run(c)` records one product with config c (no sync). */
  prepare(problem: P): { run(c: TileConfig): void; dispose(): void };
}

/** The autotuner's state, held by the runtime (`rt().autotune`). */
export interface AutotuneState {
  /** Whether ops note the shape classes they meet. */
  enabled: boolean;
  /** Where choices persist between runs, if anywhere. */
  store: TuneStore | null;
  /** Choices made or loaded, by key ("kernel/shape class"). */
  choices: Map<string, TileConfig>;
  /** Keys met since tuning was enabled and not tuned yet, with a representative problem. */
  pending: Map<string, { tunable: Tunable<unknown>; problem: unknown }>;
}

/**
 * The tuned config for `tunable`'s kernel on shape class `cls`, or undefined (the op uses its
 * default). With tuning enabled an unknown key is noted, with `problem` as its representative,
 * for {@link tunePending}.
 */
export function tunedChoice<P>(
  tunable: Tunable<P>,
  cls: string,
  problem: P,
): TileConfig | undefined {
  const state = rt().autotune;
  const key = `${tunable.kernel}/${cls}`;
  const c = state.choices.get(key);
  if (c || !state.enabled) return c;
  if (!state.pending.has(key)) {
    state.pending.set(key, { tunable: tunable as Tunable<unknown>, problem });
  }
  return undefined;
}

/** Options of {@link enableAutotune}. */
export interface AutotuneOptions {
  /** Where choices persist between runs (default: memory only). */
  store?: TuneStore;
}

/** Turns tuning on: ops note the shape classes they meet, {@link tunePending} times them. */
export function enableAutotune(opts: AutotuneOptions = {}): void {
  const state = rt().autotune;
  state.enabled = true;
  state.store = opts.store ?? null;
}

/** Turns tuning off and forgets every choice and noted key (tests). */
export function resetAutotune(): void {
  const state = rt().autotune;
  state.enabled = false;
  state.store = null;
  state.choices.clear();
  state.pending.clear();
}

/** The choices made or loaded so far, by key (for logs). */
export function tunedChoices(): Record<string, string> {
  return Object.fromEntries([...rt().autotune.choices].map(([k, c]) => [k, tileName(c)]));
}

/** Options of {@link tune}. */
export interface TuneOptions {
  /** Timed rounds per candidate after one warm-up (compile) run; the minimum counts. */
  rounds?: number;
  /** Candidates to time (default: the kernel's). */
  candidates?: readonly TileConfig[];
}

/**
 * Times the candidates of `tunable` on `problem`, records the fastest for `kernel/cls` in memory
 * and in the store (if any) and returns it. A choice already in the store is taken without
 * timing. Candidates take turns round by round, so load from elsewhere falls on all alike.
 */
export async function tune<P>(
  tunable: Tunable<P>,
  cls: string,
  problem: P,
  opts: TuneOptions = {},
): Promise<TileConfig> {
  const runtime = rt();
  const state = runtime.autotune;
  const key = `${tunable.kernel}/${cls}`;
  const stored = tileByName(await state.store?.get(key));
  if (stored) {
    state.choices.set(key, stored);
    state.pending.delete(key);
    return stored;
  }
  const candidates = opts.candidates ?? tunable.candidates;
  const rounds = opts.rounds ?? 3;
  const runner = tunable.prepare(problem);
  const best = candidates.map(() => Infinity);
  try {
    for (const c of candidates) runner.run(c);
    await runtime.sync();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < candidates.length; i++) {
        const t0 = performance.now();
        runner.run(candidates[i]);
        await runtime.sync();
        best[i] = Math.min(best[i], performance.now() - t0);
      }
    }
  } finally {
    runner.dispose();
  }
  const choice = candidates[best.indexOf(Math.min(...best))];
  state.choices.set(key, choice);
  state.pending.delete(key);
  await state.store?.set(key, tileName(choice));
  return choice;
}

/** Tunes every key noted since tuning was enabled; returns the choices made, by key. */
export async function tunePending(opts: TuneOptions = {}): Promise<Record<string, string>> {
  const made: Record<string, string> = {};
  for (const [key, { tunable, problem }] of [...rt().autotune.pending]) {
    const cls = key.slice(tunable.kernel.length + 1);
    made[key] = tileName(await tune(tunable, cls, problem, opts));
  }
  return made;
}
