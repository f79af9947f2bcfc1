/**
 * Test helpers for tests/audio: MP3 bytes built in-tree (silent MPEG-1 Layer III frames,
 * valid for both the frame scanner and mpg123), temporary Common Voice folders, paths to
 * the committed sample corpus, to the real FLAC/Ogg fixtures and to the real speech in
 * ../shared, deterministic garbage for damaged-file tests, and a console spy.
 * @module
 */

/** The committed synthetic corpus (scripts/make_sample_corpus.sh). */
export const SAMPLE_DIR = new URL("../../audio/sample/en/", import.meta.url).pathname;

/** Small real FLAC and Ogg files (tests/audio/fixtures/README.md). */
export const FIXTURE_DIR = new URL("./fixtures/", import.meta.url).pathname;

/** The real speech folder outside the repo (its SOURCES.md lists it); may be absent. */
export const SHARED_SPEECH_DIR = new URL("../../../shared/data/speech/", import.meta.url).pathname;

/** Root-mean-square of `x`. */
export function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

/** A copy of `bytes` with `length` bytes from `at` replaced by deterministic pseudo-random ones. */
export function garble(bytes: Uint8Array, at: number, length: number, seed = 1): Uint8Array {
  const out = bytes.slice();
  let state = seed >>> 0;
  for (let i = at; i < Math.min(at + length, out.length); i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

/** Runs `job` and returns its result and every line it printed through console.error/warn/log. */
export async function withConsoleSpy<T>(
  job: () => Promise<T>,
): Promise<{ result: T; printed: string[] }> {
  const printed: string[] = [];
  const saved = { error: console.error, warn: console.warn, log: console.log };
  const spy = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
  console.error = console.warn = console.log = spy;
  try {
    return { result: await job(), printed };
  } finally {
    Object.assign(console, saved);
  }
}

/** Real Common Voice clips (99, 32 kHz MP3), outside the repo; may be absent. */
export const REAL_CV_DIR =
  new URL("../../../shared/data/speech/commonvoice-en-v21-mini/", import.meta.url).pathname;

/** True when `path` exists (any kind of file). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A mono MPEG-1 Layer III stream of silent frames at 32 kbit/s lasting `frames` frames of
 * 1152 samples. Side info and main data are all zero (main_data_begin 0, no Huffman data),
 * which decoders turn into exact silence.
 */
export function silentMp3(frames: number, sampleRate: 32000 | 48000 | 44100 = 48000): Uint8Array {
  const rateIndex = { 44100: 0, 48000: 1, 32000: 2 }[sampleRate];
  const frameLength = Math.floor((144 * 32000) / sampleRate); // no padding bit set
  const frame = new Uint8Array(frameLength);
  frame.set([0xff, 0xfb, (1 << 4) | (rateIndex << 2), 0xc0]);
  const out = new Uint8Array(frames * frameLength);
  for (let i = 0; i < frames; i++) out.set(frame, i * frameLength);
  return out;
}

/** Frames needed for about `seconds` of a {@linkcode silentMp3} stream. */
export function framesFor(seconds: number, sampleRate = 48000): number {
  return Math.max(1, Math.round((seconds * sampleRate) / 1152));
}

/** Current (v17+) Common Voice header. */
export { CURRENT_HEADER } from "../../audio/commonvoice.ts";

/** A TSV from a header and rows given as name→value records (missing names are ""). */
export function tsv(header: readonly string[], rows: Record<string, string | number>[]): string {
  const lines = [header.join("\t")];
  for (const row of rows) lines.push(header.map((h) => String(row[h] ?? "")).join("\t"));
  return lines.join("\n") + "\n";
}

/** Files of a temporary Common Voice folder: TSVs at the top, clips under clips/. */
export interface CorpusSpec {
  /** File name (e.g. `train.tsv`) → contents. */
  tsvs: Record<string, string | Uint8Array>;
  /** Clip file name → bytes. */
  clips: Record<string, Uint8Array>;
}

const tempRoots: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const root of tempRoots) Deno.removeSync(root, { recursive: true });
});

/** Writes a Common Voice folder under a fresh temp dir (removed at exit); returns the folder. */
export async function makeCorpus(spec: CorpusSpec): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "cv_test_" });
  tempRoots.push(root);
  const dir = `${root}/en`;
  await Deno.mkdir(`${dir}/clips`, { recursive: true });
  for (const [name, body] of Object.entries(spec.tsvs)) {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    await Deno.writeFile(`${dir}/${name}`, bytes);
  }
  for (const [name, bytes] of Object.entries(spec.clips)) {
    await Deno.writeFile(`${dir}/clips/${name}`, bytes);
  }
  return dir;
}

/** Reads `clip_durations.tsv` of a CV folder into clip → seconds. */
export async function readDurationTable(dir: string): Promise<Map<string, number>> {
  const text = await Deno.readTextFile(`${dir}/clip_durations.tsv`);
  const out = new Map<string, number>();
  for (const line of text.trim().split("\n").slice(1)) {
    const [clip, ms] = line.split("\t");
    out.set(clip, Number(ms) / 1000);
  }
  return out;
}

/**
 * Creates a symlink. Deno.symlink needs unscoped read/write permission, which the test task
 * does not grant, so a child `deno eval` (allowed by --allow-run=deno) makes it. Returns
 * false when that is not possible here.
 */
export async function makeSymlink(target: string, link: string): Promise<boolean> {
  const code = `await Deno.symlink(${JSON.stringify(target)}, ${JSON.stringify(link)});`;
  try {
    const { success } = await new Deno.Command("deno", {
      args: ["eval", code],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}
