/**
 * Decode + featurize throughput of `deno task prepare`'s pipeline, in audio-seconds per
 * wall-second: MP3 decoding and resampling on the Worker pool (one per core), log-mels on the
 * GPU in batches of 16 clips, no disk writes. Input: every clip of the bundled sample corpus.
 *
 *   deno bench --allow-read=. --allow-env bench/prepare_bench.ts        (timing)
 *   deno run --allow-read=. --allow-env bench/prepare_bench.ts          (prints audio-s/s)
 * @module
 */
import * as ag from "../engine/mod.ts";
import { readCommonVoiceSplit } from "../audio/commonvoice.ts";
import { DecodePool } from "../audio/decode_pool.ts";
import { DEFAULT_FEATURES, LogMel } from "../audio/features.ts";
import { featurizeBatch } from "../audio/feature_cache.ts";

const SAMPLE = new URL("../audio/sample/en/", import.meta.url).pathname;
const BATCH = 16;

/** Runs the pipeline over the sample's validated clips; returns seconds of audio processed. */
export async function decodeAndFeaturize(pool: DecodePool, logMel: LogMel): Promise<number> {
  const { clips } = await readCommonVoiceSplit(SAMPLE, "validated");
  const { sampleRate } = DEFAULT_FEATURES;
  let seconds = 0;
  // Decode ahead: the next batch decodes on the workers while this one is featurized.
  const decode = (i: number) =>
    Promise.all(clips.slice(i, i + BATCH).map((c) => pool.decode(c.audioPath, sampleRate)));
  let next = decode(0);
  for (let i = 0; i < clips.length; i += BATCH) {
    const decoded = await next;
    next = decode(i + BATCH);
    const ok = decoded.flatMap((
      d,
      j,
    ) => ("error" in d ? [] : [{ row: clips[i + j], samples: d.samples }]));
    const { entries } = await featurizeBatch(logMel, ok);
    seconds += entries.reduce((t, e) => t + e.durationSeconds, 0);
  }
  await next;
  return seconds;
}

await ag.init();
const pool = new DecodePool();
const logMel = new LogMel();

Deno.bench({
  name: "decode + featurize the bundled sample (60 clips)",
  group: "prepare",
  async fn() {
    await decodeAndFeaturize(pool, logMel);
  },
});

if (import.meta.main) {
  await decodeAndFeaturize(pool, logMel); // warm-up: pipelines, WASM, workers
  const runs: number[] = [];
  let seconds = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    seconds = await decodeAndFeaturize(pool, logMel);
    runs.push((performance.now() - t0) / 1000);
  }
  runs.sort((a, b) => a - b);
  const wall = runs[1];
  console.log(
    `decode + featurize: ${seconds.toFixed(1)} s of audio in ${
      wall.toFixed(2)
    } s (median of 3) = ` +
      `${(seconds / wall).toFixed(0)}× real time on ${navigator.hardwareConcurrency} cores`,
  );
  pool.close();
  logMel.dispose();
}
