/**
 * Training data for the VAE: per-band normalisation statistics and a seeded sampler of random
 * fixed-length crops, batched channels-first [B, nMels, cropFrames] for conv1d. The sampler's
 * state is one integer, saved in checkpoints so a resumed run draws the same crops.
 * Portable: typed arrays only.
 * @module
 */

/** One clip's log-mel features: `mel` is [frames, nMels] row-major (the cache's layout). */
export interface MelClip {
  name: string;
  frames: number;
  mel: Float32Array;
}

/** Per-band mean and standard deviation over every frame of every clip (float64 sums). */
export function normalizationStats(
  clips: readonly MelClip[],
  nMels: number,
): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(nMels), sumSq = new Float64Array(nMels);
  let count = 0;
  for (const c of clips) {
    for (let f = 0; f < c.frames; f++) {
      for (let m = 0; m < nMels; m++) {
        const v = c.mel[f * nMels + m];
        sum[m] += v;
        sumSq[m] += v * v;
      }
    }
    count += c.frames;
  }
  if (count === 0) throw new Error("normalizationStats: no frames");
  const mean = new Float32Array(nMels), std = new Float32Array(nMels);
  for (let m = 0; m < nMels; m++) {
    mean[m] = sum[m] / count;
    std[m] = Math.sqrt(Math.max(sumSq[m] / count - mean[m] ** 2, 1e-6));
  }
  return { mean, std };
}

/** mulberry32: a tiny seeded generator whose whole state is one u32. */
export function mulberry32Next(state: number): [number, number] {
  const a = (state + 0x6d2b79f5) >>> 0;
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, a];
}

/**
 * Copies frames [start, start + length) of a clip into `out` channels-first ([nMels, length]
 * at `offset`); frames past the clip's end are filled with the clip's quietest value.
 */
export function writeCropChannelsFirst(
  clip: MelClip,
  nMels: number,
  start: number,
  length: number,
  out: Float32Array,
  offset: number,
): void {
  let floor = Infinity;
  if (start + length > clip.frames) { for (const v of clip.mel) floor = Math.min(floor, v); }
  for (let m = 0; m < nMels; m++) {
    for (let t = 0; t < length; t++) {
      const f = start + t;
      out[offset + m * length + t] = f < clip.frames ? clip.mel[f * nMels + m] : floor;
    }
  }
}

/**
 * What a trainer draws its batches from: [batch, nMels, cropFrames] flattened, at once
 * ({@link CropSampler}, clips in memory) or when shards arrive (vae/shard_sampler.ts).
 */
export interface BatchSampler {
  next(): Float32Array | Promise<Float32Array>;
}

/** Draws batches of random crops from clips in memory. */
export class CropSampler implements BatchSampler {
  #state: number;
  constructor(
    readonly clips: readonly MelClip[],
    readonly nMels: number,
    readonly cropFrames: number,
    readonly batch: number,
    seed: number,
  ) {
    if (clips.length === 0) throw new Error("CropSampler: no clips to train on");
    this.#state = seed >>> 0;
  }

  #uniform(): number {
    const [u, s] = mulberry32Next(this.#state);
    this.#state = s;
    return u;
  }

  /** The sampler's state (save it to resume the same stream). */
  get state(): number {
    return this.#state;
  }
  set state(s: number) {
    this.#state = s >>> 0;
  }

  /** One batch [batch, nMels, cropFrames], flattened. */
  next(): Float32Array {
    const { nMels, cropFrames } = this;
    const out = new Float32Array(this.batch * nMels * cropFrames);
    for (let b = 0; b < this.batch; b++) {
      const clip = this.clips[Math.floor(this.#uniform() * this.clips.length)];
      const start = Math.floor(this.#uniform() * Math.max(1, clip.frames - cropFrames + 1));
      writeCropChannelsFirst(clip, nMels, start, cropFrames, out, b * nMels * cropFrames);
    }
    return out;
  }
}

/**
 * Seconds of training speech a checkpoint carries for adaptation to rehearse (`listen` replays
 * them so the model does not forget speech): 4 minutes, about 2.4 MB of F16 log-mels.
 */
export const REPLAY_SECONDS = 240;

/**
 * A spread of the training clips to ship as replay: `seconds / cropSeconds` clips picked at even
 * intervals through the list (so every source and speaker of a concatenated corpus is likely
 * represented), each cut to its middle `cropSeconds`. Deterministic; clips are copied.
 */
export function selectReplay(
  clips: readonly MelClip[],
  nMels: number,
  framesPerSecond: number,
  seconds = REPLAY_SECONDS,
  cropSeconds = 4,
): MelClip[] {
  const picks = replayPicks(clips.length, seconds, cropSeconds);
  return cutReplay(picks.map((i) => clips[i]), nMels, framesPerSecond, cropSeconds);
}

/**
 * Which of `clipCount` clips {@link selectReplay} takes (ascending positions), so that a cache
 * too large to load can read just those.
 */
export function replayPicks(
  clipCount: number,
  seconds = REPLAY_SECONDS,
  cropSeconds = 4,
): number[] {
  const count = Math.min(clipCount, Math.max(1, Math.round(seconds / cropSeconds)));
  return Array.from({ length: count }, (_, k) => Math.floor((k * clipCount) / count));
}

/** The picked clips cut to their middle `cropSeconds`, as {@link selectReplay} ships them. */
export function cutReplay(
  picked: readonly MelClip[],
  nMels: number,
  framesPerSecond: number,
  cropSeconds = 4,
): MelClip[] {
  const cropFrames = Math.max(1, Math.round(cropSeconds * framesPerSecond));
  const out: MelClip[] = [];
  for (const clip of picked) {
    const frames = Math.min(clip.frames, cropFrames);
    const start = Math.floor((clip.frames - frames) / 2);
    out.push({
      name: clip.name,
      frames,
      mel: clip.mel.slice(start * nMels, (start + frames) * nMels),
    });
  }
  return out;
}
