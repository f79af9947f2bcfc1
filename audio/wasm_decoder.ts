/**
 * Plumbing shared by the WASM decoders from npm (mpg123-decoder, @wasm-audio-decoders/flac,
 * @wasm-audio-decoders/ogg-vorbis, ogg-opus-decoder): one decoder instance per codec, made on
 * first use and given one file at a time (their state is per stream), thrown away when it fails
 * (the failure becomes an {@linkcode AudioDecodeError} naming the file); the libraries' own
 * printing (`mpg123-decoder: -1 MPG123_ERR`, `libopus -4 …`) kept off stderr while they run:
 * their errors come back in the result, are counted, and are reported once, naming the file
 * (lines that do not come from these libraries still print); and the whole frames or pages a
 * scan kept, joined into the bytes the library is given.
 * @module
 */

import { AudioDecodeError, type AudioFormat } from "./errors.ts";

/** The part of the libraries' decoder classes this module uses. */
export interface WasmDecoder {
  /** Resolves when the WASM module is instantiated. */
  readonly ready: Promise<void>;
  /** Clears the stream state (between files). */
  reset(): Promise<void>;
  /** Releases the WASM memory. */
  free(): void;
}

/** How the libraries start the lines they print. */
const LIBRARY_PREFIXES = [
  "mpg123-decoder:",
  "@wasm-audio-decoders/",
  "ogg-opus-decoder:",
  "libopus ",
];

let quietDepth = 0;
let saved: { error: typeof console.error; warn: typeof console.warn } | undefined;

function fromLibrary(args: unknown[]): boolean {
  const first = args[0];
  const text = typeof first === "string" ? first : first instanceof Error ? first.message : "";
  return LIBRARY_PREFIXES.some((p) => text.startsWith(p));
}

/**
 * Runs `job` with the decoding libraries' console output dropped (other output passes). Nests
 * and overlaps safely: the console is restored when the last running job ends.
 */
export async function withLibraryOutputDropped<T>(job: () => T | Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    const original = { error: console.error, warn: console.warn };
    saved = original;
    console.error = (...args: unknown[]) => fromLibrary(args) ? undefined : original.error(...args);
    console.warn = (...args: unknown[]) => fromLibrary(args) ? undefined : original.warn(...args);
  }
  try {
    return await job();
  } finally {
    if (--quietDepth === 0 && saved) {
      console.error = saved.error;
      console.warn = saved.warn;
      saved = undefined;
    }
  }
}

/**
 * One lazily made decoder that runs jobs one after another, with the library's output dropped.
 * A job that throws discards the instance (a failed WASM decoder may be left mid-stream).
 *
 * @example
 * ```ts
 * import { MPEGDecoder } from "mpg123-decoder";
 * import { SerialDecoder } from "./wasm_decoder.ts";
 * const mpeg = new SerialDecoder(() => new MPEGDecoder(), { resetBetweenJobs: true });
 * const bytes = await Deno.readFile("audio/sample/en/clips/common_voice_en_90000001.mp3");
 * const { samplesDecoded } = await mpeg.run("a.mp3", "mp3", (d) => d.decode(bytes));
 * ```
 */
export class SerialDecoder<D extends WasmDecoder> {
  readonly #make: () => D;
  readonly #resetBetweenJobs: boolean;
  #decoder: D | undefined;
  #used = false;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * @param make builds a decoder
   * @param options.resetBetweenJobs reset before each job but the first (for decoders whose
   *   `decode` keeps stream state; `decodeFile` methods reset themselves)
   */
  constructor(make: () => D, options: { resetBetweenJobs?: boolean } = {}) {
    this.#make = make;
    this.#resetBetweenJobs = options.resetBetweenJobs ?? false;
  }

  /**
   * Runs `job` on the decoder once the jobs before it are done; an exception from the library
   * becomes an {@linkcode AudioDecodeError} for `file` ("decoder failed: …").
   */
  run<T>(file: string, format: AudioFormat, job: (decoder: D) => T | Promise<T>): Promise<T> {
    const run = this.#queue.then(() =>
      withLibraryOutputDropped(async () => {
        if (!this.#decoder) {
          this.#decoder = this.#make();
          this.#used = false;
        }
        const decoder = this.#decoder;
        await decoder.ready;
        if (this.#used && this.#resetBetweenJobs) await decoder.reset();
        this.#used = true;
        try {
          return await job(decoder);
        } catch (err) {
          this.#decoder = undefined;
          try {
            decoder.free();
          } catch {
            // already unusable; the error that matters is `err`
          }
          throw err;
        }
      })
    );
    this.#queue = run.catch(() => {});
    return run.catch((err) => {
      throw new AudioDecodeError(file, `decoder failed: ${(err as Error).message}`, {
        format,
        cause: err,
      });
    });
  }
}

/**
 * The byte ranges of `bytes` joined into one array (the frames or pages a scan found whole).
 *
 * @example
 * ```ts
 * import { joinRanges } from "./wasm_decoder.ts";
 * joinRanges(new Uint8Array([1, 2, 3, 4, 5]), [[0, 1], [3, 5]]); // Uint8Array [1, 4, 5]
 * ```
 */
export function joinRanges(bytes: Uint8Array, ranges: readonly [number, number][]): Uint8Array {
  const out = new Uint8Array(ranges.reduce((t, [a, b]) => t + b - a, 0));
  let at = 0;
  for (const [a, b] of ranges) {
    out.set(bytes.subarray(a, b), at);
    at += b - a;
  }
  return out;
}
