/**
 * Live audio input for `listen`: a source (ALSA capture device, an audio file, or raw S16_LE on
 * stdin) read by a background pump into a bounded queue, resampled on the way to the model's
 * rate. The consumer takes whatever has arrived without waiting (`take`) or waits for more
 * (`wait`). The pump never blocks the event loop: ALSA reads run on FFI worker threads
 * (`nonblocking` symbols, see audio/alsa.ts), file and stdin reads are async. When the
 * consumer falls more than `maxBacklogSeconds` behind, the pump pauses; on a live device that
 * makes ALSA overrun, which is recovered and counted, never fatal. Deno-only.
 * @module
 */
import { AlsaCapture } from "./alsa.ts";
import { type AudioStream, openAudioStream } from "./decode.ts";
import { StreamResampler } from "./resample.ts";
import { concatSamples, s16ToFloat } from "./samples.ts";

/** A mono input at its own rate. */
export interface AudioSource {
  /** What it is, for messages (`alsa:default`, a file path, `stdin`). */
  readonly name: string;
  /** Samples per second of what `read` returns. */
  readonly rate: number;
  /** Overruns recovered so far (0 for files). */
  readonly overruns: number;
  /** The next samples in [-1, 1) (possibly empty), or null at the end of the input. */
  read(): Promise<Float32Array | null>;
  /**
   * Makes a read in flight resolve now (with null), for sources whose reads can wait
   * indefinitely (a pipe that has gone quiet); absent where reads always return soon.
   */
  cancelRead?(): Promise<void>;
  close(): Promise<void>;
}

/** An ALSA capture device (see {@link AlsaCapture}). */
export class AlsaSource implements AudioSource {
  readonly name: string;
  readonly #buf: Int16Array<ArrayBuffer>;
  private constructor(readonly capture: AlsaCapture) {
    this.name = `alsa:${capture.device}`;
    this.#buf = new Int16Array(capture.periodFrames);
  }
  /** Opens the device; throws AlsaLibraryError / AlsaDeviceError with what to do. */
  static open(device: string, rate: number, library?: string): AlsaSource {
    return new AlsaSource(AlsaCapture.open({ device, rate, library }));
  }
  get rate(): number {
    return this.capture.rate;
  }
  get overruns(): number {
    return this.capture.overruns;
  }
  async read(): Promise<Float32Array> {
    const n = await this.capture.read(this.#buf);
    return s16ToFloat(this.#buf, n);
  }
  close(): Promise<void> {
    return this.capture.close();
  }
}

/**
 * An audio file (WAV, MP3, FLAC, Ogg), delivered in 0.1 s chunks as fast as they are taken,
 * read through {@link openAudioStream}: a WAV file a block at a time from disk (however long it
 * is), other formats decoded whole when opened. `open` checks the file (header, or the whole
 * decode) before any chunk is read; damage found later (mostly non-finite samples) is thrown by
 * `read` as an {@link AudioDecodeError} naming the file.
 */
export class FileSource implements AudioSource {
  readonly overruns = 0;
  readonly #blocks: AsyncGenerator<Float32Array>;
  #block: Float32Array = new Float32Array(0);
  #pos = 0;
  private constructor(readonly name: string, readonly rate: number, stream: AudioStream) {
    this.#blocks = stream.blocks();
  }
  static async open(path: string): Promise<FileSource> {
    const stream = await openAudioStream(path);
    return new FileSource(path, stream.sampleRate, stream);
  }
  async read(): Promise<Float32Array | null> {
    while (this.#pos >= this.#block.length) {
      const next = await this.#blocks.next();
      if (next.done) return null;
      this.#block = next.value;
      this.#pos = 0;
    }
    const n = Math.max(1, Math.round(this.rate / 10));
    const out = this.#block.slice(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
  async close(): Promise<void> {
    await this.#blocks.return(undefined);
  }
}

/** Raw S16_LE mono at `rate` from a byte stream (stdin for `--input -`). */
export class RawS16Source implements AudioSource {
  readonly overruns = 0;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #odd: number | null = null;
  constructor(readonly name: string, readonly rate: number, stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  async read(): Promise<Float32Array | null> {
    const { value, done } = await this.#reader.read();
    if (done || !value) return null;
    let bytes = value;
    if (this.#odd !== null) {
      bytes = new Uint8Array(value.length + 1);
      bytes[0] = this.#odd;
      bytes.set(value, 1);
      this.#odd = null;
    }
    const n = bytes.length >> 1;
    if (bytes.length & 1) this.#odd = bytes[bytes.length - 1];
    const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true) / 32768;
    return out;
  }
  /** Cancels the stream: a read waiting on a quiet pipe returns null (the end). */
  cancelRead(): Promise<void> {
    return this.close();
  }
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** Counters of a {@link Capture}. */
export interface CaptureStats {
  /** Seconds of audio delivered at the model rate. */
  seconds: number;
  overruns: number;
  deviceRate: number;
}

/** A source pumped in the background into a queue at `rate`. */
export class Capture {
  readonly #queue: Float32Array[] = [];
  #queued = 0;
  #delivered = 0;
  #ended = false;
  #error: Error | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #resume: (() => void) | null = null;
  readonly #resampler: StreamResampler;
  readonly #pump: Promise<void>;

  constructor(
    readonly source: AudioSource,
    readonly rate: number,
    readonly opts: { maxBacklogSeconds?: number; limitSeconds?: number } = {},
  ) {
    this.#resampler = new StreamResampler(source.rate, rate);
    this.#pump = this.#run();
  }

  get stats(): CaptureStats {
    return {
      seconds: this.#delivered / this.rate,
      overruns: this.source.overruns,
      deviceRate: this.source.rate,
    };
  }

  /** True once the input has ended (or failed, or was stopped) and the queue is empty. */
  get done(): boolean {
    return this.#ended && this.#queue.length === 0;
  }

  async #run(): Promise<void> {
    const maxBacklog = (this.opts.maxBacklogSeconds ?? 10) * this.rate;
    const limit = this.opts.limitSeconds === undefined
      ? Infinity
      : Math.round(this.opts.limitSeconds * this.rate);
    let produced = 0;
    try {
      while (!this.#stopped && produced < limit) {
        if (this.#queued >= maxBacklog) {
          await new Promise<void>((r) => this.#resume = r);
          continue;
        }
        const x = await this.source.read();
        let y = x === null ? this.#resampler.flush() : this.#resampler.push(x);
        if (y.length > limit - produced) y = y.subarray(0, limit - produced);
        if (y.length) {
          this.#queue.push(y);
          this.#queued += y.length;
          produced += y.length;
          this.#wakeUp();
        }
        if (x === null) break;
      }
    } catch (e) {
      this.#error = e as Error;
    } finally {
      this.#ended = true;
      this.#wakeUp();
    }
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /**
   * Everything queued so far (possibly empty), without waiting.
   * @throws the source's error once the samples read before it have been taken
   */
  take(): Float32Array {
    if (this.#queue.length === 0 && this.#error) {
      const e = this.#error;
      this.#error = null;
      throw e;
    }
    const out = concatSamples(this.#queue.splice(0));
    this.#queued = 0;
    this.#delivered += out.length;
    const r = this.#resume;
    this.#resume = null;
    r?.();
    return out;
  }

  /** Resolves when samples are queued, the input ended, or after `timeoutMs`. */
  wait(timeoutMs = 1000): Promise<void> {
    if (this.#queue.length || this.#ended) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, timeoutMs);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /**
   * Stops the pump and closes the source: after any read in flight, which sources that can
   * block indefinitely (a quiet stdin pipe) are asked to end at once.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    const r = this.#resume;
    this.#resume = null;
    r?.();
    await this.source.cancelRead?.();
    await this.#pump;
    await this.source.close();
  }
}
