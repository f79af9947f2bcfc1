/**
 * Training crops streamed from a sharded feature cache of any size, in bounded memory
 * (WebDataset-style): shards come in a seeded order, a new permutation each epoch; a window of
 * consecutive shards of that order is resident, and batches draw random crops of random clips
 * of the window (the window is the shuffle buffer). Each shard leaves the window after as many
 * crops as it holds crop lengths of frames (so an epoch draws about the cache's frames), and
 * the next enters, already read by the loader ahead of time (prefetch). Window and prefetch
 * together stay under `budgetBytes`.
 *
 * When the whole cache fits in the budget, nothing streams: every shard stays resident in
 * cache order and the draws are exactly those of vae/data.ts's `CropSampler` over the cache's
 * clips with the same seed (same random numbers, same crops, same values).
 *
 * The state ({@link ShardSamplerState}: the crop RNG, the stream position and the crops drawn
 * from the oldest shard) is saved in checkpoints; restoring it rebuilds the same window and the
 * run continues with the same crops, across shard and epoch boundaries. A shard that the loader
 * cannot use (truncated, of another cache) is skipped: it counts as holding no clips.
 * Portable: the loader that reads files is given (audio/shard_reader.ts).
 * @module
 */
import { float16ToFloat32 } from "../engine/float16.ts";
import { mulberry32Next, writeCropChannelsFirst } from "./data.ts";

/** One shard of the stream, as the cache's index describes it. */
export interface StreamShard {
  clips: number;
  frames: number;
  /** Resident size (the file's bytes). */
  bytes: number;
}

/** A shard's features in memory: each clip's frame count and first value, binary16 values. */
export interface ResidentShard {
  frames: number[];
  offsets: number[];
  half: Uint16Array;
}

/** Reads shards by their position in the shard list; null for one that cannot be used. */
export interface ShardLoader {
  load(shard: number): Promise<ResidentShard | null>;
}

/** Where the stream is: what a checkpoint keeps to resume it exactly. */
export interface ShardSamplerState {
  /** The crop RNG (mulberry32). */
  rng: number;
  /** Stream position of the window's oldest shard (epoch · shards + place in the epoch). */
  cursor: number;
  /** Crops drawn since that shard became the oldest. */
  drawn: number;
  /** Window size the stream was drawn with (resident: at least the whole cache). */
  windowBytes: number;
}

/** What {@link ShardSampler} draws. */
export interface ShardSamplerOptions {
  nMels: number;
  cropFrames: number;
  batch: number;
  seed: number;
  /** Most bytes of shards held at once (window + prefetch). */
  budgetBytes: number;
}

/** Raised when the budget cannot hold a window of these shards; says what would. */
export class CacheBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CacheBudgetError";
  }
}

/** The resident window: its end (exclusive), its shards and where each one's clips start. */
interface Window {
  end: number;
  shards: (ResidentShard | null)[];
  firstClip: number[];
  clips: number;
}

/** Share of the budget kept for shards read ahead while streaming. */
const PREFETCH_SHARE = 0.25;

/** A seeded permutation of 0…n−1 (Fisher–Yates on mulberry32). */
function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  let state = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    const [u, s] = mulberry32Next(state);
    state = s;
    const j = Math.floor(u * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Batches of random crops from a stream of shards; see the module comment. */
export class ShardSampler {
  readonly nMels: number;
  readonly cropFrames: number;
  readonly batch: number;
  readonly seed: number;
  readonly totalBytes: number;
  #rng: number;
  #cursor = 0;
  #drawn = 0;
  #windowBytes: number;
  #prefetchBytes: number;
  readonly #budgetBytes: number;
  /** Shards requested from the loader, by stream position (window and prefetch). */
  readonly #held = new Map<number, Promise<ResidentShard | null>>();
  /** Loaded shards of the window, by stream position. */
  readonly #ready = new Map<number, ResidentShard | null>();
  #perms = new Map<number, Int32Array>();
  /** Window end (exclusive) and the clips of the window, rebuilt when it moves. */
  #window: Window | null = null;
  /** Whether the first window was filled (later waits count as waits, not start-up). */
  #started = false;
  /** Milliseconds `next()` spent waiting for shards to arrive, after the first window. */
  waitMs = 0;
  /** Milliseconds spent waiting for the first window (start-up). */
  startMs = 0;
  /** Milliseconds spent in `next()` in all (waits and cutting crops). */
  nextMs = 0;
  /** Largest number of bytes of shards held at once. */
  peakBytes = 0;
  /** Shards taken into the window so far (read ahead or not). */
  shardsEntered = 0;

  constructor(
    readonly shards: readonly StreamShard[],
    readonly loader: ShardLoader,
    options: ShardSamplerOptions,
  ) {
    if (shards.length === 0 || shards.every((s) => s.clips === 0)) {
      throw new Error("ShardSampler: no clips to train on");
    }
    ({ nMels: this.nMels, cropFrames: this.cropFrames, batch: this.batch } = options);
    this.seed = options.seed;
    this.#rng = options.seed >>> 0;
    this.totalBytes = shards.reduce((n, s) => n + s.bytes, 0);
    const budget = this.#budgetBytes = options.budgetBytes;
    if (this.totalBytes <= budget) {
      this.#windowBytes = budget;
      this.#prefetchBytes = 0;
    } else {
      this.#prefetchBytes = Math.floor(budget * PREFETCH_SHARE);
      this.#windowBytes = budget - this.#prefetchBytes;
      const largest = Math.max(...shards.map((s) => s.bytes));
      if (largest > this.#prefetchBytes) {
        const mb = (b: number) => (b / 2 ** 20).toFixed(1);
        throw new CacheBudgetError(
          `a cache memory of ${mb(budget)} MB cannot stream shards of up to ${mb(largest)} MB ` +
            `(the cache holds ${mb(this.totalBytes)} MB): give --cache-memory of at least ` +
            `${Math.ceil(largest / PREFETCH_SHARE / 2 ** 20)} MB, or prepare smaller shards ` +
            "(--clips-per-shard)",
        );
      }
    }
  }

  /** Whether every shard stays resident (the cache fits the budget): no streaming. */
  get resident(): boolean {
    return this.#windowBytes >= this.totalBytes;
  }

  /** Bytes of shards held now (window and prefetch). */
  get heldBytes(): number {
    let n = 0;
    for (const t of this.#held.keys()) n += this.shards[this.#shardAt(t)].bytes;
    return n;
  }

  /** The position to save (see {@link ShardSamplerState}). */
  get state(): ShardSamplerState {
    return {
      rng: this.#rng,
      cursor: this.#cursor,
      drawn: this.#drawn,
      windowBytes: this.#windowBytes,
    };
  }

  /**
   * Restores a saved position. A window size different from the one this budget gives is
   * kept when both stream, or both hold everything (so the stream is the same); otherwise the
   * position is kept and the window follows this budget (the crops then differ).
   */
  set state(s: ShardSamplerState) {
    this.#rng = s.rng >>> 0;
    const resident = this.resident;
    const fits = s.windowBytes + this.#prefetchBytes <= this.#budgetBytes;
    if ((s.windowBytes >= this.totalBytes) === resident && fits) {
      this.#windowBytes = s.windowBytes;
    }
    this.#cursor = resident ? 0 : s.cursor;
    this.#drawn = resident ? 0 : s.drawn;
    this.#release(() => true);
    this.#started = false;
  }

  /** The shard at stream position `t`. */
  #shardAt(t: number): number {
    if (this.resident) return t;
    const n = this.shards.length;
    const epoch = Math.floor(t / n);
    let perm = this.#perms.get(epoch);
    if (!perm) {
      perm = permutation(n, (this.seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0);
      this.#perms.set(epoch, perm);
      for (const e of this.#perms.keys()) if (e < epoch - 1) this.#perms.delete(e);
    }
    return perm[t - epoch * n];
  }

  /** End (exclusive) of the shards from `from` on that fit in `bytes`, at most `limit` of them. */
  #fit(from: number, bytes: number, limit: number): number {
    let end = from, used = 0;
    while (end - from < limit && used + this.shards[this.#shardAt(end)].bytes <= bytes) {
      used += this.shards[this.#shardAt(end)].bytes;
      end++;
    }
    return end;
  }

  #request(t: number): void {
    if (this.#held.has(t)) return;
    const loading = this.loader.load(this.#shardAt(t));
    loading.catch(() => {}); // a shard released before it arrives may fail unawaited
    this.#held.set(t, loading);
    this.peakBytes = Math.max(this.peakBytes, this.heldBytes);
  }

  #release(drop: (t: number) => boolean): void {
    for (const t of [...this.#held.keys()]) {
      if (drop(t)) {
        this.#held.delete(t);
        this.#ready.delete(t);
      }
    }
    this.#window = null;
  }

  /** Makes the window from the cursor resident (waiting as needed) and reads ahead. */
  async #fillWindow(): Promise<Window> {
    const n = this.shards.length;
    const start = this.#cursor;
    const end = this.resident ? n : Math.max(start + 1, this.#fit(start, this.#windowBytes, n));
    this.#release((t) => t < start);
    for (let t = start; t < end; t++) this.#request(t);
    if (!this.resident) {
      const ahead = this.#fit(end, this.#prefetchBytes, n);
      for (let t = end; t < ahead; t++) this.#request(t);
    }
    const shards: (ResidentShard | null)[] = [];
    for (let t = start; t < end; t++) {
      let shard = this.#ready.get(t);
      if (shard === undefined) {
        const t0 = performance.now();
        shard = await this.#held.get(t)!;
        if (this.#started) this.waitMs += performance.now() - t0;
        else this.startMs += performance.now() - t0;
        this.#ready.set(t, shard);
        this.shardsEntered++;
      }
      shards.push(shard);
    }
    const firstClip: number[] = [];
    let clips = 0;
    for (const s of shards) {
      firstClip.push(clips);
      clips += s?.frames.length ?? 0;
    }
    if (clips === 0 && this.resident) {
      throw new Error("ShardSampler: no shard of the cache could be used");
    }
    this.#started = true;
    this.#window = { end, shards, firstClip, clips };
    return this.#window;
  }

  /** Crops the oldest shard still owes before it leaves (0 for one without clips). */
  #quota(shard: ResidentShard | null, index: number): number {
    if (!shard || shard.frames.length === 0) return 0;
    return Math.max(1, Math.round(this.shards[index].frames / this.cropFrames));
  }

  #uniform(): number {
    const [u, s] = mulberry32Next(this.#rng);
    this.#rng = s;
    return u;
  }

  /** One batch [batch, nMels, cropFrames], flattened. */
  async next(): Promise<Float32Array> {
    const t0 = performance.now();
    const { nMels, cropFrames } = this;
    const out = new Float32Array(this.batch * nMels * cropFrames);
    for (let b = 0; b < this.batch; b++) {
      let window = this.#window ?? await this.#fillWindow();
      if (!this.resident) {
        // Move on past shards that have given their share (or hold nothing).
        let moved = 0;
        while (this.#drawn >= this.#quota(window.shards[0], this.#shardAt(this.#cursor))) {
          this.#cursor++;
          this.#drawn = 0;
          if (++moved > 2 * this.shards.length) {
            throw new Error("ShardSampler: no shard of the cache could be used");
          }
          window = await this.#fillWindow();
        }
      }
      const j = Math.floor(this.#uniform() * window.clips);
      let s = window.firstClip.length - 1;
      while (window.firstClip[s] > j || !window.shards[s]?.frames.length) s--;
      const shard = window.shards[s]!;
      const c = j - window.firstClip[s];
      const frames = shard.frames[c];
      const start = Math.floor(this.#uniform() * Math.max(1, frames - cropFrames + 1));
      // Only the rows cropped are converted; a crop past the clip's end starts at 0, so it
      // then holds the whole clip and the padding floor is the clip's own.
      const rows = Math.min(frames, start + cropFrames) - start;
      const at = shard.offsets[c] + start * nMels;
      const mel = float16ToFloat32(shard.half.subarray(at, at + rows * nMels));
      writeCropChannelsFirst(
        { name: "", frames: rows, mel },
        nMels,
        0,
        cropFrames,
        out,
        b * nMels * cropFrames,
      );
      this.#drawn++;
    }
    this.nextMs += performance.now() - t0;
    return out;
  }
}
