/**
 * audio/shard_reader.ts: the shards of feature caches read on a Worker for the streaming
 * sampler. Two caches form one shard list with their statistics merged; a shard cut short, one
 * copied in from another cache and a missing one are each named once and skipped, and training
 * crops keep coming from the others (streamed and resident alike).
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import {
  CACHE_FORMAT_VERSION,
  type CacheIndex,
  type CacheShard,
  openCache,
  shardEntry,
  shardFileName,
  writeCacheIndex,
} from "../../audio/feature_cache.ts";
import { encodeShard } from "../../audio/feature_shard.ts";
import { BandStats } from "../../audio/feature_stats.ts";
import { DEFAULT_FEATURES } from "../../audio/features.ts";
import { ShardReader, trainingShards } from "../../audio/shard_reader.ts";
import { float16ToFloat32 } from "../../engine/float16.ts";
import { ShardSampler } from "../../vae/shard_sampler.ts";

const NMELS = DEFAULT_FEATURES.nMels;

/**
 * Writes a complete cache of `shards` shards of 2 clips of 30 frames, every value of shard s of
 * cache c equal to 100·c + s (so a crop names its shard), and returns its folder.
 */
async function writeCache(root: string, c: number, shards: number): Promise<string> {
  const dir = nodePath.join(root, `cache-${c}`);
  await Deno.mkdir(dir, { recursive: true });
  const plan = `plan-${c}`;
  const stats = new BandStats(NMELS);
  const entries: CacheShard[] = [];
  for (let s = 0; s < shards; s++) {
    const clips = [0, 1].map((k) => ({
      path: `c${c}-s${s}-${k}.mp3`,
      clientId: "",
      sentence: "",
      frames: 30,
      durationSeconds: 0.48,
      offset: k * 30 * NMELS,
    }));
    const header = { plan, shard: shardFileName(s), nMels: NMELS, clips, skipped: [] };
    const bytes = encodeShard(header, new Float32Array(60 * NMELS).fill(100 * c + s));
    await Deno.writeFile(nodePath.join(dir, header.shard), bytes);
    stats.addHalf(new Uint16Array(bytes.buffer, bytes.length - 60 * NMELS * 2));
    entries.push(shardEntry(header.shard, header, bytes.length));
  }
  const index: CacheIndex = {
    version: CACHE_FORMAT_VERSION,
    features: { ...DEFAULT_FEATURES },
    source: { data: "synthetic", split: "train" },
    plan,
    plannedClips: 2 * shards,
    clipsPerShard: 2,
    tsvSkipped: [],
    shards: entries,
    stats: stats.toJSON(),
    complete: true,
  };
  await writeCacheIndex(dir, index);
  return dir;
}

Deno.test("a truncated, a foreign and a missing shard are named once and skipped; crops go on", async () => {
  const root = await Deno.makeTempDir({ prefix: "shard-reader-" });
  const a = await writeCache(root, 1, 12), b = await writeCache(root, 2, 12);
  const caches = await Promise.all(
    [a, b].map(async (dir) => ({ dir, index: await openCache(dir, DEFAULT_FEATURES) })),
  );
  const set = trainingShards(caches);
  assert.equal(set.files.length, 24);
  assert.equal(set.clips, 48);
  // The statistics of both caches, merged: the mean of every band is the mean of the values.
  const values = [1, 2].flatMap((c) => [...Array(12).keys()].map((s) => 100 * c + s));
  const mean = values.reduce((x, y) => x + y) / values.length;
  assert.ok(Math.abs(set.stats.meanStd().mean[5] - mean) < 1e-3);

  // Damage: cache 1's shard 3 cut short, shard 5 replaced by cache 2's shard 5, shard 8 gone.
  const shard = (dir: string, s: number) => nodePath.join(dir, shardFileName(s));
  const whole = await Deno.readFile(shard(a, 3));
  await Deno.writeFile(shard(a, 3), whole.subarray(0, whole.length - 100));
  await Deno.copyFile(shard(b, 5), shard(a, 5));
  await Deno.remove(shard(a, 8));
  const damaged = new Set([103, 105, 108]);

  const total = set.shards.reduce((n, s) => n + s.bytes, 0);
  for (const budget of [total, Math.floor(total / 3)]) {
    const named: string[] = [];
    const reader = new ShardReader(set.files, (problem) => named.push(problem));
    try {
      const sampler = new ShardSampler(set.shards, reader, {
        nMels: NMELS,
        cropFrames: 16,
        batch: 8,
        seed: 3,
        budgetBytes: budget,
      });
      const from = new Set<number>();
      for (let i = 0; i < 60; i++) {
        const batch = await sampler.next();
        for (let k = 0; k < 8; k++) from.add(Math.round(batch[k * NMELS * 16]));
      }
      for (const v of damaged) assert.ok(!from.has(v), `a crop came from damaged shard ${v}`);
      assert.ok(from.size >= 18, `crops came from only ${from.size} shards`);
      assert.equal(reader.skipped, 3);
      assert.equal(named.length, 3, named.join("\n"));
      const text = named.join("\n");
      assert.match(text, new RegExp(`${shard(a, 3)}: truncated`));
      assert.match(text, new RegExp(`${shard(a, 5)}: belongs to another cache`));
      assert.match(text, new RegExp(`${shard(a, 8)}: missing`));
    } finally {
      reader.close();
    }
  }
  // The reader hands over binary16 views of the file (values as written).
  const reader = new ShardReader(set.files, () => {});
  try {
    const s = (await reader.load(13))!;
    assert.deepEqual(s.frames, [30, 30]);
    assert.equal(float16ToFloat32(s.half.subarray(0, 1))[0], 201);
  } finally {
    reader.close();
  }
  await Deno.remove(root, { recursive: true });
});
