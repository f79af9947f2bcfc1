// One clip learned by a small vocoder: the measure through the waveform (float64 re-analysis,
// audio/waveform_distance.ts) must fall far below the untrained model's. Sized to run in well
// under a minute on the 2-core machine through lavapipe.
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { loadAudio } from "../../audio/decode.ts";
import { LogMel } from "../../audio/features.ts";
import { waveformDistance } from "../../audio/waveform_distance.ts";
import {
  DEFAULT_DISCRIMINATOR,
  DEFAULT_VOCODER,
  DEFAULT_VOCODER_TRAIN,
} from "../../vocoder/config.ts";
import { peakNormalize } from "../../vocoder/corpus.ts";
import { SegmentSampler } from "../../vocoder/data.ts";
import { Discriminators } from "../../vocoder/discriminators.ts";
import { Vocoder } from "../../vocoder/model.ts";
import { vocodeClip, VocoderTrainer } from "../../vocoder/trainer.ts";
import { setup } from "../util.ts";

Deno.test("vocoder overfits one clip: LSD through the waveform falls from > 15 dB to < 10 dB", async () => {
  await setup();
  ag.rt().poisonOutputs = false; // a training loop, not an op check (set back below)
  const path = "audio/sample/en/clips/common_voice_en_90000001.mp3";
  const clip = peakNormalize((await loadAudio(path, { sampleRate: 16000 })).samples).slice(
    0,
    16000,
  );
  const logMel = new LogMel();
  // Without the magnitude prior, which would start it near Griffin-Lim's magnitudes already: here
  // the network must learn the magnitude and the phase (the prior is checked in model_test.ts).
  const vocoder = new Vocoder(
    { ...DEFAULT_VOCODER, channels: 32, intermediate: 96, layers: 2, magnitudePrior: false },
    1,
  );
  // Input scaling from the clip itself, as a run takes it from its training data.
  const mel = await ag.tidy(() =>
    logMel.forward(ag.tensor(clip, [1, clip.length])).mean(2).toArray()
  );
  vocoder.setNormalization(mel, new Float32Array(80).fill(2));
  const trainer = new VocoderTrainer(
    vocoder,
    new Discriminators({ ...DEFAULT_DISCRIMINATOR, periods: [2], periodChannels: [2] }),
    { ...DEFAULT_VOCODER_TRAIN, batch: 4, segmentFrames: 16, lr: 3e-3 },
    logMel,
  );
  const sampler = new SegmentSampler([clip], 1024, 16 * 256, 4, [0, 0], 3);
  const before = waveformDistance(clip, await vocodeClip(vocoder, logMel, clip));
  for (let i = 0; i < 150; i++) await trainer.trainStep(sampler.next());
  const after = waveformDistance(clip, await vocodeClip(vocoder, logMel, clip));
  console.log(
    `one clip: mel-LSD ${before.melLsd.toFixed(2)} → ${after.melLsd.toFixed(2)} dB, ` +
      `LSD ${before.lsd.toFixed(2)} → ${after.lsd.toFixed(2)} dB`,
  );
  assert.ok(before.lsd > 15 && before.melLsd > 15, `untrained: ${JSON.stringify(before)}`);
  assert.ok(after.lsd < 10, `LSD after training ${after.lsd.toFixed(2)} dB`);
  assert.ok(after.melLsd < 7, `mel-LSD after training ${after.melLsd.toFixed(2)} dB`);
  assert.equal(trainer.skippedSteps, 0);
  logMel.dispose();
  vocoder.dispose();
  ag.rt().poisonOutputs = true;
});
