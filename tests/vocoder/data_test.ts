import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { centerPad, LogMel } from "../../audio/features.ts";
import {
  DEFAULT_DISCRIMINATOR,
  DEFAULT_VOCODER,
  DEFAULT_VOCODER_TRAIN,
} from "../../vocoder/config.ts";
import { SegmentSampler } from "../../vocoder/data.ts";
import { Discriminators } from "../../vocoder/discriminators.ts";
import { Vocoder } from "../../vocoder/model.ts";
import { VocoderTrainer } from "../../vocoder/trainer.ts";
import { assertClose, setup } from "../util.ts";
import { speechLike } from "./signals.ts";

Deno.test("SegmentSampler: rows are the reflect-padded clip around a segment, gain applied; state resumes", () => {
  const clip = speechLike(20000, 1);
  const padded = centerPad(clip, 1024);
  const s = new SegmentSampler([clip], 1024, 4096, 3, [-6, -6], 9);
  const gain = 10 ** (-6 / 20);
  const saved = s.state;
  const batch = s.next();
  assert.equal(batch.samplesPerSegment, 4096 + 1024);
  for (let b = 0; b < 3; b++) {
    const row = batch.audio.subarray(b * 5120, (b + 1) * 5120);
    // Find where the row starts in the padded clip from its first samples.
    let start = -1;
    for (let i = 0; i + 5120 <= padded.length && start < 0; i++) {
      if ([0, 1, 2, 3].every((k) => Math.abs(padded[i + k] * gain - row[k]) < 1e-7)) start = i;
    }
    assert.ok(start >= 0, `row ${b} is not a window of the padded clip`);
    for (let k = 0; k < 5120; k += 97) {
      assert.ok(Math.abs(padded[start + k] * gain - row[k]) < 1e-7);
    }
  }
  s.state = saved;
  assert.deepEqual(s.next().audio, batch.audio);
});

Deno.test("trainer inputs: a segment's frames are the whole clip's centred frames at those positions", async () => {
  await setup();
  const logMel = new LogMel();
  const clip = speechLike(16000, 2);
  const padded = centerPad(clip, 1024);
  const frames = 16, hop = 256, f0 = 11;
  // A batch of one segment starting at sample f0·hop, with its context, as the sampler lays it out.
  const row = padded.slice(f0 * hop, f0 * hop + frames * hop + 1024);
  const trainer = new VocoderTrainer(
    new Vocoder({ ...DEFAULT_VOCODER, channels: 8, intermediate: 8, layers: 1 }),
    new Discriminators({ ...DEFAULT_DISCRIMINATOR, periods: [2], periodChannels: [2] }),
    { ...DEFAULT_VOCODER_TRAIN, batch: 1, segmentFrames: frames },
    logMel,
  );
  await ag.tidy(async () => {
    const { mel, target } = trainer.inputs({ audio: row, batch: 1, samplesPerSegment: row.length });
    assert.deepEqual(mel.shape, [1, 80, frames + 1]);
    const whole = logMel.forward(ag.tensor(clip, [1, clip.length])).slice(2, f0, f0 + frames + 1);
    assertClose(
      await mel.toArray(),
      await whole.toArray(),
      1e-5,
      "segment frames vs whole-clip frames",
    );
    assert.deepEqual(await target.toArray(), clip.slice(f0 * hop, (f0 + frames) * hop));
  });
  logMel.dispose();
});
