import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { LogMel } from "../../audio/features.ts";
import { ConfigError } from "../../vae/config.ts";
import { decodeSafetensors, encodeSafetensors } from "../../vae/safetensors.ts";
import {
  checkSameFeatures,
  DEFAULT_DISCRIMINATOR,
  DEFAULT_VOCODER,
  DEFAULT_VOCODER_TRAIN,
} from "../../vocoder/config.ts";
import { loadVocoder, readVocoderCheckpoint, saveVocoder } from "../../vocoder/checkpoint.ts";
import { restoreTraining, vocoderFromCheckpoint } from "../../vocoder/checkpoint_format.ts";
import { SegmentSampler } from "../../vocoder/data.ts";
import { Discriminators } from "../../vocoder/discriminators.ts";
import { Vocoder } from "../../vocoder/model.ts";
import { VocoderTrainer } from "../../vocoder/trainer.ts";
import { setup } from "../util.ts";
import { speechLike } from "./signals.ts";

const SMALL = { ...DEFAULT_VOCODER, channels: 16, intermediate: 32, layers: 2 };
const SMALL_D = {
  ...DEFAULT_DISCRIMINATOR,
  periods: [2, 3],
  periodChannels: [4, 4],
  resolutionChannels: 4,
};
const TRAIN = {
  ...DEFAULT_VOCODER_TRAIN,
  batch: 2,
  segmentFrames: 8,
  adversarialFrom: 2,
  stftResolutions: [[256, 64], [512, 128]] as [number, number][],
};

function makeRun(logMel: LogMel) {
  const vocoder = new Vocoder(SMALL, 1);
  const discriminators = new Discriminators(SMALL_D, 2);
  const trainer = new VocoderTrainer(vocoder, discriminators, TRAIN, logMel);
  const sampler = new SegmentSampler(
    [speechLike(16000, 1), speechLike(16000, 2)],
    1024,
    8 * 256,
    2,
    [-6, 0],
    7,
  );
  return { vocoder, discriminators, trainer, sampler };
}

async function weights(m: ag.Module): Promise<Float32Array> {
  return await ag.tidy(() => ag.concat(m.parameters().map((p) => p.reshape([p.size]))).toArray());
}

Deno.test("vocoder checkpoint: --resume continues exactly (weights, both optimizers, data, GAN phase)", async () => {
  await setup();
  const logMel = new LogMel();
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  // Straight: 4 steps (the last two adversarial).
  const a = makeRun(logMel);
  for (let i = 0; i < 4; i++) await a.trainer.trainStep(a.sampler.next());
  // Resumed: 2 steps, save, fresh objects, restore, 2 more.
  const b = makeRun(logMel);
  for (let i = 0; i < 2; i++) await b.trainer.trainStep(b.sampler.next());
  await saveVocoder(path, b.vocoder, {
    discriminators: b.discriminators,
    discriminatorConfig: SMALL_D,
    train: TRAIN,
    generatorOptimizer: b.trainer.generatorOptimizer,
    discriminatorOptimizer: b.trainer.discriminatorOptimizer,
    state: {
      step: 2,
      sampler: b.sampler.state,
      gpuRng: b.trainer.gpuRng.state(),
      skippedSteps: 0,
      history: {},
    },
  });
  const ckpt = await readVocoderCheckpoint(path);
  const c = makeRun(logMel);
  c.vocoder.dispose();
  const vocoder = vocoderFromCheckpoint(ckpt);
  const trainer = new VocoderTrainer(vocoder, c.discriminators, ckpt.train!, logMel);
  restoreTraining(ckpt, {
    discriminators: c.discriminators,
    generatorOptimizer: trainer.generatorOptimizer,
    discriminatorOptimizer: trainer.discriminatorOptimizer,
  });
  trainer.step = ckpt.state!.step;
  c.sampler.state = ckpt.state!.sampler;
  for (let i = 0; i < 2; i++) {
    const s = await trainer.trainStep(c.sampler.next());
    assert.ok(s.adversarialPhase && Number.isFinite(s.discriminator));
  }
  assert.deepEqual(await weights(vocoder), await weights(a.vocoder));
  assert.deepEqual(await weights(c.discriminators), await weights(a.discriminators));
  await Deno.remove(path);
  logMel.dispose();
});

Deno.test("vocoder weights-only file: F16 weights, the same audio to far below its error", async () => {
  await setup();
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  const v = new Vocoder(SMALL, 5);
  await saveVocoder(path, v);
  const ckpt = await readVocoderCheckpoint(path);
  assert.equal(ckpt.tensors.get("generator.head.weight")!.dtype, "F16");
  assert.equal(ckpt.tensors.get("generator.mel_mean")!.dtype ?? "F32", "F32");
  const w = vocoderFromCheckpoint(ckpt);
  await ag.tidy(async () => {
    const mel = ag.randn([1, 80, 40], { seed: 3 }).sub(5);
    const a = await w.synthesize(mel).toArray(), b = await v.synthesize(mel).toArray();
    // Half-precision weights: the output moves by less than 1 % of its RMS (−40 dB).
    let err = 0, ref = 0;
    for (let i = 0; i < a.length; i++) err += (a[i] - b[i]) ** 2, ref += b[i] ** 2;
    assert.ok(Math.sqrt(err / ref) < 0.01, `relative RMS change ${Math.sqrt(err / ref)}`);
  });
  const run = makeRun(new LogMel());
  await assert.rejects(
    async () =>
      restoreTraining(await readVocoderCheckpoint(path), {
        discriminators: run.discriminators,
        generatorOptimizer: run.trainer.generatorOptimizer,
        discriminatorOptimizer: run.trainer.discriminatorOptimizer,
      }),
    /holds no training state \(weights only\)/,
  );
  await Deno.remove(path);
});

Deno.test("a bad or mismatched vocoder file is refused with a message naming the problem", async () => {
  await setup();
  const dir = await Deno.makeTempDir();
  const v = new Vocoder(SMALL, 5);
  const good = `${dir}/good.safetensors`;
  await saveVocoder(good, v);
  const bytes = await Deno.readFile(good);
  // Truncated.
  await Deno.writeFile(`${dir}/cut.safetensors`, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(
    () => loadVocoder(`${dir}/cut.safetensors`),
    /cut\.safetensors: .*truncated|cut\.safetensors: .*do not fit/,
  );
  // Another model's checkpoint (a VAE's format).
  await Deno.writeFile(
    `${dir}/vae.safetensors`,
    encodeSafetensors({ tensors: new Map(), metadata: { format: "audio-gen-vae/1" } }),
  );
  await assert.rejects(
    () => loadVocoder(`${dir}/vae.safetensors`),
    /vae\.safetensors: not an audio-gen vocoder \(format "audio-gen-vae\/1"/,
  );
  // A config that does not match the weights: named tensor and shapes.
  const ckpt = await readVocoderCheckpoint(good);
  assert.throws(
    () =>
      vocoderFromCheckpoint({
        ...ckpt,
        config: { ...ckpt.config, channels: 24, intermediate: 48 },
      }),
    (e: Error) =>
      e instanceof ConfigError &&
      /good\.safetensors: .*size mismatch for embed\.weight/.test(e.message),
  );
  // A bad config field in the file's metadata.
  const decoded = decodeSafetensors(bytes, good);
  const badConfig = { ...JSON.parse(decoded.metadata.vocoder_config), layers: 0 };
  await Deno.writeFile(
    `${dir}/bad.safetensors`,
    encodeSafetensors({
      tensors: decoded.tensors,
      metadata: { ...decoded.metadata, vocoder_config: JSON.stringify(badConfig) },
    }),
  );
  await assert.rejects(
    () => loadVocoder(`${dir}/bad.safetensors`),
    /bad\.safetensors: vocoder_config: layers must be a positive integer, got 0/,
  );
  // Features that differ from the VAE's, named by field.
  assert.throws(
    () =>
      checkSameFeatures(
        SMALL.features,
        { ...SMALL.features, htk: false, nMels: 64 },
        "vocoder.safetensors",
        "the VAE",
      ),
    /features\.nMels: vocoder 80, the VAE 64; features\.htk: vocoder true, the VAE false/,
  );
  await Deno.remove(dir, { recursive: true });
});
