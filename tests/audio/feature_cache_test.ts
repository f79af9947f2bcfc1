/**
 * audio/feature_cache.ts: a cache of format 1 (f32 shards) is refused with a message to prepare
 * it again; the streaming fingerprint is FNV-1a 64 (checked against BigInt arithmetic written
 * plainly here) fed in any pieces; a few clips are read from the shards that hold them, an
 * unusable shard's clips left out and named when asked to, an error otherwise.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import {
  CACHE_FORMAT_VERSION,
  type CacheIndex,
  Fingerprint,
  fingerprint,
  loadClipsAt,
  readCacheIndex,
  shardEntry,
  shardFileName,
  StaleCacheError,
  writeCacheIndex,
} from "../../audio/feature_cache.ts";
import { encodeShard } from "../../audio/feature_shard.ts";
import { DEFAULT_FEATURES } from "../../audio/features.ts";

/** FNV-1a 64 over UTF-8 bytes, in BigInt: the definition. */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

Deno.test("fingerprint is FNV-1a 64, fed whole or in pieces", () => {
  for (const text of ["", "a", "common_voice_en_1.mp3", "é — ü 日本 🎙", "x".repeat(1000)]) {
    assert.equal(fingerprint(text), fnv1a64(text), JSON.stringify(text));
  }
  const pieces = ["split train", "\nclips/a.mp3", "\nclips/ü.mp3", ""];
  const f = new Fingerprint();
  for (const p of pieces) f.update(p);
  assert.equal(f.digest(), fnv1a64(pieces.join("")));
});

Deno.test("a cache of format 1 is refused, saying to prepare it again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cache-v1-" });
  await Deno.writeTextFile(
    nodePath.join(dir, "index.json"),
    JSON.stringify({ version: 1, shards: [], complete: true }),
  );
  await assert.rejects(readCacheIndex(dir), (e: unknown) => {
    assert.ok(e instanceof StaleCacheError, String(e));
    assert.match(e.message, /format version \(1, expected 2; prepare it again\)/);
    assert.match(e.message, new RegExp(`delete ${dir}`));
    return true;
  });
  assert.equal(CACHE_FORMAT_VERSION, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadClipsAt reads the shards holding the clips asked for; a bad one named or refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cache-at-" });
  const nMels = DEFAULT_FEATURES.nMels;
  const shards = [];
  for (let s = 0; s < 4; s++) {
    const clips = [0, 1, 2].map((k) => ({
      path: `s${s}c${k}`,
      clientId: "",
      sentence: "",
      frames: 2 + k,
      durationSeconds: 0,
      offset: [0, 2, 5][k] * nMels,
    }));
    const header = { plan: "p", shard: shardFileName(s), nMels, clips, skipped: [] };
    const values = Float32Array.from({ length: 9 * nMels }, (_, i) => s + i / 4096);
    const bytes = encodeShard(header, values);
    await Deno.writeFile(nodePath.join(dir, header.shard), bytes);
    shards.push(shardEntry(header.shard, header, bytes.length));
  }
  const index: CacheIndex = {
    version: CACHE_FORMAT_VERSION,
    features: { ...DEFAULT_FEATURES },
    source: { data: "x", split: "train" },
    plan: "p",
    plannedClips: 12,
    clipsPerShard: 3,
    tsvSkipped: [],
    shards,
    complete: true,
  };
  await writeCacheIndex(dir, index);
  const clips = await loadClipsAt(dir, (await readCacheIndex(dir))!, [1, 2, 7, 11]);
  assert.deepEqual(clips.map((c) => c.name), ["s0c1", "s0c2", "s2c1", "s3c2"]);
  assert.equal(clips[2].mel.length, 3 * nMels);
  assert.equal(clips[2].mel[0], 2 + (2 * nMels) / 4096);
  // Shard 2 cut short: named and left out when asked to, an error naming it otherwise.
  const bad = nodePath.join(dir, shardFileName(2));
  await Deno.truncate(bad, 100);
  const named: string[] = [];
  const kept = await loadClipsAt(dir, index, [1, 7, 11], (_problem, file) => named.push(file));
  assert.deepEqual(kept.map((c) => c.name), ["s0c1", "s3c2"]);
  assert.deepEqual(named, [bad]);
  await assert.rejects(loadClipsAt(dir, index, [7]), new RegExp(`${bad}: truncated`));
  await Deno.remove(dir, { recursive: true });
});
