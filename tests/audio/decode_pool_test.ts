/**
 * Tests for audio/decode_pool.ts: the Worker pool `prepare` uses decodes every format exactly
 * as the main thread does (same samples, in request order), turns broken files into
 * `{ error }` with the format and reason, and hands the warnings of damaged files, naming them,
 * to `onWarning`.
 */

import assert from "node:assert/strict";
import { loadAudio } from "../../audio/decode.ts";
import { DecodePool } from "../../audio/decode_pool.ts";
import type { AudioDecodeWarning } from "../../audio/errors.ts";
import { FIXTURE_DIR, garble, SAMPLE_DIR } from "./fixtures.ts";

Deno.test("DecodePool decodes every format as the main thread does, broken files by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "decode_pool_test_" });
  const flac = `${FIXTURE_DIR}librispeech-1447-130550-0000.flac`;
  const mp3 = `${SAMPLE_DIR}clips/common_voice_en_90000033.mp3`;
  const mp3Bytes = await Deno.readFile(mp3);
  const holed = `${dir}/holed.mp3`;
  await Deno.writeFile(holed, garble(mp3Bytes, mp3Bytes.length / 2, 2048));
  const flacBytes = await Deno.readFile(flac);
  const junk = `${dir}/junk.flac`;
  await Deno.writeFile(junk, garble(flacBytes, 9000, flacBytes.length));
  const good = [
    flac,
    `${FIXTURE_DIR}jfk-cut.flac`,
    `${FIXTURE_DIR}fleurs-es-006.opus.ogg`,
    `${FIXTURE_DIR}librispeech-198-209-0000-cut.vorbis.ogg`,
    mp3,
    holed,
  ];
  const warnings: AudioDecodeWarning[] = [];
  const pool = new DecodePool({ size: 2, onWarning: (w) => warnings.push(w) });
  try {
    const paths = [...good, junk, `${dir}/missing.wav`];
    const results = await Promise.all(paths.map((p) => pool.decode(p, 16000)));
    for (const [i, path] of good.entries()) {
      const r = results[i];
      assert.ok(!("error" in r), `${path}: ${"error" in r ? r.error : ""}`);
      const main = await loadAudio(path, { sampleRate: 16000, onWarning: () => {} });
      assert.deepEqual(r.samples, main.samples, path);
    }
    assert.match(
      (results[6] as { error: string }).error,
      /^FLAC: mostly undecodable: \d+% of the audio lost/,
    );
    assert.deepEqual(results[7], { error: "missing file" });
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].file, holed);
    assert.equal(warnings[0].format, "mp3");
    assert.match(warnings[0].message, /^1 damaged region skipped/);
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});
