/**
 * The training set of one or more feature caches as a stream of shards for
 * vae/shard_sampler.ts: the shard list of every cache (in `--data` order), their exact
 * normalisation statistics merged, and a {@link ShardReader} that reads shards on a Worker
 * (audio/shard_worker.ts) as the sampler asks for them, ahead of the GPU. A shard that cannot
 * be used (missing, cut short, of another cache, rewritten since the index) is named once on
 * stderr and skipped. Deno-only (Workers read files).
 * @module
 */
import * as nodePath from "node:path";
import type { ResidentShard, ShardLoader, StreamShard } from "../vae/shard_sampler.ts";
import { type CacheIndex, type CacheShard, cacheStats, shardExpectation } from "./feature_cache.ts";
import type { ShardExpectation } from "./feature_shard.ts";
import { BandStats } from "./feature_stats.ts";

/** A shard of a training set: its file, what its header must say, and its index entry. */
export interface ShardFile {
  path: string;
  expect: ShardExpectation;
  entry: CacheShard;
}

/** The shards of several caches, their sizes for the sampler, and their statistics. */
export interface TrainingShards {
  files: ShardFile[];
  shards: StreamShard[];
  stats: BandStats;
  clips: number;
  frames: number;
}

/** Every shard of the caches, in order, with the caches' statistics merged (exact). */
export function trainingShards(
  caches: readonly { dir: string; index: CacheIndex }[],
): TrainingShards {
  const files: ShardFile[] = [];
  const stats = new BandStats(caches[0]?.index.features.nMels ?? 1);
  for (const { dir, index } of caches) {
    for (const entry of index.shards) {
      files.push({
        path: nodePath.join(dir, entry.file),
        expect: shardExpectation(index, entry),
        entry,
      });
    }
    if (index.stats) stats.merge(cacheStats(dir, index));
  }
  const shards = files.map(({ entry }) => ({
    clips: entry.clips,
    frames: entry.frames,
    bytes: entry.bytes,
  }));
  return {
    files,
    shards,
    stats,
    clips: shards.reduce((n, s) => n + s.clips, 0),
    frames: shards.reduce((n, s) => n + s.frames, 0),
  };
}

type Reply =
  & { id: number }
  & (
    | { bytes: Uint8Array; dataOffset: number; frames: number[]; offsets: number[] }
    | { problem: string }
    | { error: string }
  );

/** Reads shards of a list on a Worker; call `close()` when done. */
export class ShardReader implements ShardLoader {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { shard: number; resolve: (s: ResidentShard | null) => void; reject: (e: Error) => void }
  >();
  readonly #named = new Set<number>();
  #nextId = 0;
  /** Shards skipped so far (each named once through `onSkip`). */
  get skipped(): number {
    return this.#named.size;
  }

  constructor(
    readonly files: readonly ShardFile[],
    readonly onSkip: (problem: string, file: string) => void = (p) =>
      console.error(`\ntrain: skipped ${p}`),
  ) {
    this.#worker = new Worker(new URL("./shard_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (ev: MessageEvent<Reply>) => this.#onReply(ev.data);
    this.#worker.onerror = (ev) => {
      ev.preventDefault();
      for (const p of this.#pending.values()) {
        p.reject(new Error(`shard worker failed: ${ev.message}`));
      }
      this.#pending.clear();
    };
  }

  #onReply(reply: Reply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    if ("error" in reply) p.reject(new Error(reply.error));
    else if ("problem" in reply) {
      if (!this.#named.has(p.shard)) {
        this.#named.add(p.shard);
        this.onSkip(reply.problem, this.files[p.shard].path);
      }
      p.resolve(null);
    } else {
      const { bytes, dataOffset, frames, offsets } = reply;
      const values = frames.reduce((n, f) => n + f, 0) * (this.files[p.shard].expect.nMels);
      const at = bytes.byteOffset + dataOffset;
      const half = at % 2 === 0
        ? new Uint16Array(bytes.buffer, at, values)
        : new Uint16Array(bytes.slice(dataOffset, dataOffset + 2 * values).buffer);
      p.resolve({ frames, offsets, half });
    }
  }

  load(shard: number): Promise<ResidentShard | null> {
    const { path, expect, entry } = this.files[shard];
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { shard, resolve, reject });
      this.#worker.postMessage({
        id,
        path,
        expect,
        entry: { clips: entry.clips, frames: entry.frames },
      });
    });
  }

  /** Stops the worker. */
  close(): void {
    this.#worker.terminate();
  }
}
