/**
 * Decodes clips on a pool of Workers (one per core by default), keeping results in request
 * order. A broken clip resolves to `{ error }` (format and reason, e.g. "MP3: mostly
 * undecodable: …"); only a failure of the run itself rejects. A clip decoded with repairs
 * resolves normally and its warnings, naming the file, go to `onWarning` (default: stderr).
 * Deno-only (Workers read files).
 * @module
 */

import { type AudioDecodeWarning, printAudioWarning } from "./errors.ts";

/** A decoded clip, or why it could not be decoded. */
export type DecodeResult =
  | { samples: Float32Array; sourceSampleRate: number; warnings: AudioDecodeWarning[] }
  | { error: string };

type Reply = {
  id: number;
  samples?: Float32Array;
  sourceSampleRate?: number;
  warnings?: AudioDecodeWarning[];
  error?: string;
  decodeError?: boolean;
};

/** Options for {@linkcode DecodePool}. */
export interface DecodePoolOptions {
  /** Workers to start (default: one per core). */
  size?: number;
  /** Called for each warning of a clip decoded with repairs; default: print on stderr. */
  onWarning?: (warning: AudioDecodeWarning) => void;
}

/** A fixed set of decode workers. Call `close()` when done. */
export class DecodePool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (r: DecodeResult) => void; reject: (e: Error) => void }
  >();
  readonly #idle: Worker[] = [];
  readonly #queue: { id: number; path: string; sampleRate: number }[] = [];
  readonly #onWarning: (warning: AudioDecodeWarning) => void;
  #nextId = 0;

  constructor(options: DecodePoolOptions = {}) {
    const size = options.size ?? Math.max(1, navigator.hardwareConcurrency ?? 2);
    this.#onWarning = options.onWarning ?? printAudioWarning;
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (ev: MessageEvent<Reply>) => this.#onReply(w, ev.data);
      w.onerror = (ev) => {
        ev.preventDefault();
        for (const p of this.#pending.values()) {
          p.reject(new Error(`decode worker failed: ${ev.message}`));
        }
        this.#pending.clear();
      };
      this.#workers.push(w);
      this.#idle.push(w);
    }
  }

  #onReply(worker: Worker, reply: Reply): void {
    const p = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (p) {
      if (reply.error !== undefined) {
        if (reply.decodeError) p.resolve({ error: reply.error });
        else p.reject(new Error(reply.error));
      } else {
        const warnings = reply.warnings ?? [];
        warnings.forEach(this.#onWarning);
        p.resolve({ samples: reply.samples!, sourceSampleRate: reply.sourceSampleRate!, warnings });
      }
    }
    this.#idle.push(worker);
    this.#pump();
  }

  #pump(): void {
    while (this.#idle.length && this.#queue.length) {
      this.#idle.pop()!.postMessage(this.#queue.shift()!);
    }
  }

  /** Decodes `path` and resamples it to `sampleRate`. */
  decode(path: string, sampleRate: number): Promise<DecodeResult> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#queue.push({ id, path, sampleRate });
      this.#pump();
    });
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}
