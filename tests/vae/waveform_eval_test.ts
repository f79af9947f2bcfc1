/**
 * Tests for vae/waveform_eval.ts: reconstructions keep every frame (padding to whole latent
 * steps is cut off again), a vocoder that returns the input scores 0 through the waveform, and
 * the scores of a trained model sit between that and an untrained model's.
 */
import assert from "node:assert/strict";
import * as ag from "../../engine/mod.ts";
import { LogMel } from "../../audio/features.ts";
import { loadModel } from "../../vae/checkpoint.ts";
import { MelVae } from "../../vae/model.ts";
import { GriffinLimVocoder, type MelVocoder } from "../../audio/vocoder.ts";
import { reconstructFrames, scoreClips, summarize } from "../../vae/waveform_eval.ts";
import { clipAudio, pretrainedCheckpoint, splitClips, TINY_MODEL } from "./adapt_fixture.ts";
import { setup } from "../util.ts";

await setup();

Deno.test("reconstructFrames keeps every frame, including a tail shorter than a latent step", async () => {
  const model = new MelVae(TINY_MODEL, 1);
  const logMel = new LogMel(TINY_MODEL.features);
  try {
    for (const samples of [48000 + 256 - 7, 48000 + 256 * 3 - 7]) {
      const x = Float32Array.from({ length: samples }, (_, i) => 0.3 * Math.sin(i * 0.05));
      await ag.tidy(async () => {
        const mel = logMel.logMelFrames(ag.tensor(x, [1, samples]));
        const frames = mel.shape[1];
        assert.notEqual(frames % model.hopFactor, 0, "the case must have a partial latent step");
        const y = reconstructFrames(model, mel);
        assert.deepEqual(y.shape, mel.shape);
        const v = await y.toArray();
        assert.ok(v.every(Number.isFinite));
        // Frames beyond the receptive field of the tail (40 frames is more than the encoder's and
        // decoder's reach) match the reconstruction of the whole latent steps alone.
        const whole = model.wholeLatentFrames(frames);
        const ref = reconstructFrames(model, mel.slice(1, 0, whole));
        const r = await ref.toArray();
        const inner = (whole - 40) * TINY_MODEL.features.nMels;
        for (let i = 0; i < inner; i++) assert.ok(Math.abs(v[i] - r[i]) < 1e-4, `value ${i}`);
      });
    }
  } finally {
    logMel.dispose();
    model.dispose();
  }
});

Deno.test("scores: an identity vocoder on true features is 0 dB; a trained model beats an untrained one", async () => {
  const names = (await splitClips("dev")).slice(0, 1);
  const clips = await Promise.all(
    names.map(async (name) => ({ name, samples: await clipAudio(name) })),
  );
  const features = TINY_MODEL.features;
  // A "vocoder" that gives back the input audio: through the waveform that is a perfect system.
  const byFrames = new Map(clips.map((c) => [1 + Math.floor(c.samples.length / features.hop), c]));
  const identity: MelVocoder = {
    features,
    synthesize: (mel) => {
      const clip = byFrames.get(mel.shape[1])!;
      return ag.tensor(clip.samples, [1, clip.samples.length]);
    },
  };
  const perfect = summarize(await scoreClips(null, clips, features, identity));
  assert.equal(perfect.melLsd, 0);
  assert.equal(perfect.lsd, 0);
  assert.equal(perfect.featureMelLsd, 0);
  const gl = new GriffinLimVocoder(features, { iterations: 8, seed: 1 });
  const ceiling = summarize(await scoreClips(null, clips, features, gl));
  const { model: trained } = await loadModel((await pretrainedCheckpoint()).path);
  const untrained = new MelVae(TINY_MODEL, 9);
  untrained.loadStateDict(new Map([...trained.stateDict()].filter(([n]) => n.startsWith("mel_"))), {
    strict: false,
  });
  const good = summarize(await scoreClips(trained, clips, features, gl));
  const bad = summarize(await scoreClips(untrained, clips, features, gl));
  console.log(
    `GL8 on true mels ${ceiling.melLsd.toFixed(2)} dB; trained ${good.melLsd.toFixed(2)} ` +
      `(features ${good.featureMelLsd.toFixed(2)}); untrained ${bad.melLsd.toFixed(2)} ` +
      `(features ${bad.featureMelLsd.toFixed(2)})`,
  );
  assert.ok(ceiling.melLsd > 0 && ceiling.melLsd < good.melLsd, "the vocoder alone is the ceiling");
  assert.ok(good.melLsd < bad.melLsd - 2, "training should show through the waveform");
  assert.ok(good.featureMelLsd < bad.featureMelLsd - 2, "and in the features");
  trained.dispose();
  untrained.dispose();
});
