/**
 * WAV files of any length on disk, a block at a time: {@link readWavBlocks} reads the samples
 * of a file in pieces (its header from the first bytes, then the `data` chunk block by block),
 * and {@link WavFileWriter} writes mono 16-bit PCM as it comes, into a temp file beside the
 * destination whose header is patched with the final size before it is flushed and renamed into
 * place, so that a failure or a kill leaves no torn WAV (io/atomic_file.ts's rule). Deno-only.
 * @module
 */
import { namingDestination, tempPathOf } from "../io/atomic_file.ts";
import {
  deinterleave,
  encodePcm16,
  MAX_WAV_DATA_BYTES,
  readWavLayout,
  wavHeader,
  type WavLayout,
} from "./wav.ts";

/** Bytes of a WAV file read to find its layout (the chunks before the samples). */
const HEAD_BYTES = 1 << 20;

/**
 * Opens a WAV file and reads its layout from the first bytes.
 * @throws {AudioDecodeError} for a bad header; `Deno.errors.NotFound` etc. pass through
 */
export async function readWavFileLayout(path: string): Promise<WavLayout> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const head = new Uint8Array(Math.min(size, HEAD_BYTES));
    let got = 0;
    while (got < head.length) {
      const n = await file.read(head.subarray(got));
      if (n === null) break;
      got += n;
    }
    return readWavLayout(head.subarray(0, got), size, path);
  } finally {
    file.close();
  }
}

/**
 * The sample frames of a WAV file with layout `layout` (from {@link readWavFileLayout}), in
 * blocks of at most `blockFrames` frames, one array per channel.
 */
export async function* readWavBlocks(
  path: string,
  layout: WavLayout,
  blockFrames: number,
): AsyncGenerator<Float32Array[]> {
  const file = await Deno.open(path, { read: true });
  try {
    await file.seek(layout.dataOffset, Deno.SeekMode.Start);
    const buffer = new Uint8Array(Math.max(1, blockFrames) * layout.blockAlign);
    let left = layout.dataBytes;
    while (left > 0) {
      const want = Math.min(buffer.length, left);
      let got = 0;
      while (got < want) {
        const n = await file.read(buffer.subarray(got, want));
        if (n === null) break;
        got += n;
      }
      if (got === 0) break; // the file shrank under us: what was there has been read
      left -= got;
      yield deinterleave(buffer.subarray(0, got), layout, path);
    }
  } finally {
    file.close();
  }
}

/**
 * Writes a mono 16-bit PCM WAV file block by block. `open` checks nothing but the temp file;
 * callers check the destination first (cli/args.ts `writesFile`). Every failure names the
 * destination (a {@link WriteFileError}); `close` makes the file appear whole, `abort` removes
 * the temp file and leaves the destination as it was.
 */
export class WavFileWriter {
  #frames = 0;
  #closed = false;

  private constructor(
    readonly path: string,
    readonly sampleRate: number,
    readonly file: Deno.FsFile,
  ) {}

  /** Starts a WAV at `path` (in its temp file, `PATH.PID.tmp`). */
  static open(path: string, sampleRate: number): Promise<WavFileWriter> {
    return namingDestination(path, async () => {
      const file = await Deno.open(tempPathOf(path), {
        write: true,
        create: true,
        truncate: true,
      });
      const writer = new WavFileWriter(path, sampleRate, file);
      await writer.#writeAll(wavHeader(0, sampleRate));
      return writer;
    });
  }

  /** Samples written so far. */
  get frames(): number {
    return this.#frames;
  }

  /**
   * Appends samples (clipped to [-1, 1]).
   * @throws {RangeError} past the 4 GiB a WAV file can hold
   */
  async write(samples: Float32Array): Promise<void> {
    if ((this.#frames + samples.length) * 2 > MAX_WAV_DATA_BYTES) {
      throw new RangeError(
        `${this.path}: a WAV file holds at most ${maxWavSeconds(this.sampleRate).toFixed(0)} s ` +
          `of 16-bit mono at ${this.sampleRate} Hz`,
      );
    }
    await namingDestination(this.path, () => this.#writeAll(encodePcm16(samples)));
    this.#frames += samples.length;
  }

  /** Patches the header, flushes the file to disk and renames it into place. */
  async close(): Promise<void> {
    await namingDestination(this.path, async () => {
      const dataBytes = this.#frames * 2;
      if (dataBytes & 1) await this.#writeAll(new Uint8Array(1)); // chunks are even-sized
      await this.file.seek(0, Deno.SeekMode.Start);
      await this.#writeAll(wavHeader(dataBytes, this.sampleRate));
      await this.file.sync();
      this.#closeFile();
      await Deno.rename(tempPathOf(this.path), this.path);
    }).catch(async (e) => {
      await this.abort();
      throw e;
    });
  }

  /** Gives up: closes and removes the temp file; the destination is left as it was. */
  async abort(): Promise<void> {
    this.#closeFile();
    await Deno.remove(tempPathOf(this.path)).catch(() => {});
  }

  #closeFile(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.close();
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.file.write(bytes.subarray(written));
  }
}

/** Longest 16-bit mono WAV at `sampleRate`, in seconds. */
export function maxWavSeconds(sampleRate: number): number {
  return Math.floor(MAX_WAV_DATA_BYTES / 2) / sampleRate;
}
