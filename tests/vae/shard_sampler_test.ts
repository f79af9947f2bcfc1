/**
 * vae/shard_sampler.ts: crops streamed from shards in bounded memory. When the cache fits the
 * budget the draws are CropSampler's over the same clips, value for value; streamed, each epoch
 * visits every shard once in a seeded order; a sampler restored from a saved state goes on with
 * the same batches as the one that saved it, wherever it stopped (inside a shard, at a shard's
 * last crop, across an epoch); the shards held never exceed the budget although the cache is
 * 12× larger; an unusable shard is skipped; a budget too small for the shards is refused.
 */
import assert from "node:assert/strict";
import { float16ToFloat32, float32ToFloat16 } from "../../engine/float16.ts";
import { CropSampler, type MelClip } from "../../vae/data.ts";
import {
  CacheBudgetError,
  type ResidentShard,
  type ShardLoader,
  ShardSampler,
  type StreamShard,
} from "../../vae/shard_sampler.ts";

const NMELS = 3;
const CROP = 8;

/**
 * `count` shards of 2–3 clips of 20–40 frames; each value encodes (shard, clip, frame, band), so
 * a crop says where it came from. Bytes stand for file sizes (header + features).
 */
function makeShards(count: number): { shards: StreamShard[]; resident: ResidentShard[] } {
  const shards: StreamShard[] = [], resident: ResidentShard[] = [];
  for (let s = 0; s < count; s++) {
    const clips = 2 + (s % 2);
    const frames = Array.from({ length: clips }, (_, c) => 20 + ((s * 13 + c * 11) % 21));
    const offsets: number[] = [];
    const values: number[] = [];
    for (let c = 0; c < clips; c++) {
      offsets.push(values.length);
      for (let f = 0; f < frames[c]; f++) {
        for (let m = 0; m < NMELS; m++) values.push(s + c / 8 + f / 256 + m / 2048);
      }
    }
    const half = float32ToFloat16(Float32Array.from(values));
    resident.push({ frames, offsets, half });
    shards.push({
      clips,
      frames: frames.reduce((a, b) => a + b, 0),
      bytes: 64 + half.byteLength,
    });
  }
  return { shards, resident };
}

/** A loader over shards in memory that logs what is asked for; `bad` shards come back null. */
class MemoryLoader implements ShardLoader {
  readonly requests: number[] = [];
  constructor(readonly resident: ResidentShard[], readonly bad = new Set<number>()) {}
  load(shard: number): Promise<ResidentShard | null> {
    this.requests.push(shard);
    return Promise.resolve(this.bad.has(shard) ? null : this.resident[shard]);
  }
}

/** The shard a crop's first value came from (values encode it; see makeShards). */
const shardOf = (batch: Float32Array, b: number) => Math.floor(batch[b * NMELS * CROP] + 1e-3);

const options = (budgetBytes: number, seed = 5) => ({
  nMels: NMELS,
  cropFrames: CROP,
  batch: 4,
  seed,
  budgetBytes,
});

Deno.test("a cache that fits the budget draws CropSampler's crops over its clips, value for value", async () => {
  const { shards, resident } = makeShards(6);
  const clips: MelClip[] = [];
  resident.forEach((r, s) =>
    r.frames.forEach((frames, c) =>
      clips.push({
        name: `${s}/${c}`,
        frames,
        mel: float16ToFloat32(r.half.subarray(r.offsets[c], r.offsets[c] + frames * NMELS)),
      })
    )
  );
  const total = shards.reduce((n, s) => n + s.bytes, 0);
  const sampler = new ShardSampler(shards, new MemoryLoader(resident), options(total, 11));
  assert.ok(sampler.resident);
  const reference = new CropSampler(clips, NMELS, CROP, 4, 11);
  for (let i = 0; i < 40; i++) {
    assert.deepEqual(await sampler.next(), reference.next(), `batch ${i}`);
  }
  assert.equal(sampler.state.rng, reference.state);
  assert.equal(sampler.peakBytes, total);
});

Deno.test("streamed, each epoch visits every shard once, in an order the seed sets", async () => {
  const { shards, resident } = makeShards(40);
  const total = shards.reduce((n, s) => n + s.bytes, 0);
  const budget = Math.floor(total / 5);
  const order = async (seed: number) => {
    const loader = new MemoryLoader(resident);
    const sampler = new ShardSampler(shards, loader, options(budget, seed));
    assert.ok(!sampler.resident);
    // Two epochs and a bit: an epoch draws about total frames / crop crops.
    const frames = shards.reduce((n, s) => n + s.frames, 0);
    for (let i = 0; i < Math.ceil((2.2 * frames) / CROP / 4); i++) await sampler.next();
    return loader.requests;
  };
  const a = await order(5);
  assert.deepEqual(await order(5), a, "the same seed gives another order");
  assert.notDeepEqual(await order(6), a, "another seed gives the same order");
  const epoch = (e: number) => a.slice(e * 40, (e + 1) * 40);
  assert.deepEqual([...epoch(0)].sort((x, y) => x - y), [...Array(40).keys()]);
  assert.deepEqual([...epoch(1)].sort((x, y) => x - y), [...Array(40).keys()]);
  assert.notDeepEqual(epoch(0), epoch(1), "every epoch in the same order");
  assert.notDeepEqual(epoch(0), [...Array(40).keys()], "not shuffled");
});

Deno.test("a restored state continues the same batches, across shard and epoch boundaries", async () => {
  const { shards, resident } = makeShards(15);
  const total = shards.reduce((n, s) => n + s.bytes, 0);
  const budget = Math.floor(total / 2);
  const straight = new ShardSampler(shards, new MemoryLoader(resident), options(budget));
  const batches: Float32Array[] = [];
  const states = [];
  for (let i = 0; i < 120; i++) {
    states.push(straight.state);
    batches.push(await straight.next());
  }
  // Stops where the oldest shard had just given its last crop (the cursor moves on the next
  // draw), inside a shard, and in the second epoch.
  const cursors = states.map((s) => s.cursor);
  const boundary = cursors.findIndex((c, i) => i > 0 && c !== cursors[i - 1]);
  const secondEpoch = cursors.findIndex((c) => c >= shards.length);
  assert.ok(boundary > 0 && secondEpoch > 0 && secondEpoch < 100, `${boundary}, ${secondEpoch}`);
  for (const at of [boundary - 1, boundary, boundary + 3, secondEpoch, 100]) {
    // A fresh sampler of the run's seed (a checkpoint keeps it in the train config).
    const resumed = new ShardSampler(shards, new MemoryLoader(resident), options(budget));
    resumed.state = JSON.parse(JSON.stringify(states[at]));
    for (let i = at; i < at + 15; i++) {
      assert.deepEqual(await resumed.next(), batches[i], `resumed at ${at}: batch ${i} differs`);
    }
  }
});

Deno.test("the shards held stay within the budget although the cache is 12× larger", async () => {
  const { shards, resident } = makeShards(100);
  const total = shards.reduce((n, s) => n + s.bytes, 0);
  const budget = Math.floor(total / 12);
  const loader = new MemoryLoader(resident);
  const sampler = new ShardSampler(shards, loader, options(budget));
  const frames = shards.reduce((n, s) => n + s.frames, 0);
  const seen = new Set<number>();
  for (let i = 0; i < Math.ceil(frames / CROP / 4); i++) {
    const batch = await sampler.next();
    for (let b = 0; b < 4; b++) seen.add(shardOf(batch, b));
    assert.ok(sampler.heldBytes <= budget, `${sampler.heldBytes} bytes held, budget ${budget}`);
  }
  assert.ok(sampler.peakBytes <= budget, `peak ${sampler.peakBytes} > budget ${budget}`);
  assert.ok(sampler.peakBytes > budget / 2, "the window does not use its budget");
  // It streamed through the cache: (nearly) every shard was read and cropped from.
  assert.ok(new Set(loader.requests).size === 100, `${new Set(loader.requests).size} shards read`);
  assert.ok(seen.size >= 95, `crops came from ${seen.size} of 100 shards`);
  // Had it held everything, the peak would be the whole cache.
  const everything = new ShardSampler(shards, new MemoryLoader(resident), options(total));
  await everything.next();
  assert.equal(everything.peakBytes, total);
});

Deno.test("an unusable shard is skipped; a budget too small for the shards is refused", async () => {
  const { shards, resident } = makeShards(20);
  const total = shards.reduce((n, s) => n + s.bytes, 0);
  for (const budget of [total, Math.floor(total / 3)]) {
    const sampler = new ShardSampler(
      shards,
      new MemoryLoader(resident, new Set([0, 7])),
      options(budget),
    );
    for (let i = 0; i < 60; i++) {
      const batch = await sampler.next();
      for (let b = 0; b < 4; b++) {
        assert.ok(![0, 7].includes(shardOf(batch, b)), `crop from a skipped shard (${budget})`);
      }
    }
  }
  const all = new Set([...Array(20).keys()]);
  const none = new ShardSampler(shards, new MemoryLoader(resident, all), options(total / 3));
  await assert.rejects(none.next(), /no shard of the cache could be used/);
  const largest = Math.max(...shards.map((s) => s.bytes));
  assert.throws(
    () => new ShardSampler(shards, new MemoryLoader(resident), options(largest * 3)),
    (e: unknown) => {
      assert.ok(e instanceof CacheBudgetError, String(e));
      assert.match(
        e.message,
        /cannot stream shards of up to .* MB .*: give --cache-memory of at least/,
      );
      return true;
    },
  );
});
