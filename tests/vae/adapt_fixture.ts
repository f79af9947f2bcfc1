/**
 * Shared fixture of the adaptation tests: the bundled sample's six espeak-ng voices (speaker k
 * owns clips k, k+6, …; train.tsv holds speakers 1–4, dev.tsv speaker 5, test.tsv speaker 6),
 * decoded at 16 kHz, and a tiny VAE pretrained on speakers 1–4 (saved once per process).
 * @module
 */
import * as nodePath from "node:path";
import { fileURLToPath } from "node:url";
import * as ag from "../../engine/mod.ts";
import { loadAudio } from "../../audio/decode.ts";
import { LogMel } from "../../audio/features.ts";
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig } from "../../vae/config.ts";
import { saveCheckpoint } from "../../vae/checkpoint.ts";
import { CropSampler, type MelClip, normalizationStats, selectReplay } from "../../vae/data.ts";
import { MelVae } from "../../vae/model.ts";
import { VaeTrainer } from "../../vae/trainer.ts";
import { melClip } from "../../vae/adapt.ts";

export const SAMPLE_DIR = fileURLToPath(new URL("../../audio/sample/en", import.meta.url));

/** The tiny architecture of the tests. */
export const TINY_MODEL: ModelConfig = {
  ...DEFAULT_MODEL,
  channels: 48,
  latentDim: 8,
};

/** Clip file names of a split of the sample corpus. */
export async function splitClips(split: "train" | "dev" | "test"): Promise<string[]> {
  const tsv = await Deno.readTextFile(nodePath.join(SAMPLE_DIR, `${split}.tsv`));
  const rows = tsv.trim().split("\n").slice(1).map((l) => l.split("\t"));
  return rows.map((r) => r[1]);
}

/** Samples (16 kHz) of a sample-corpus clip. */
export async function clipAudio(name: string): Promise<Float32Array> {
  return (await loadAudio(nodePath.join(SAMPLE_DIR, "clips", name), { sampleRate: 16000 }))
    .samples;
}

/** Features of clips (16 kHz samples each). */
export async function clipsFeatures(names: string[]): Promise<MelClip[]> {
  const logMel = new LogMel(TINY_MODEL.features);
  try {
    const out: MelClip[] = [];
    for (const n of names) out.push(await melClip(logMel, await clipAudio(n), n));
    return out;
  } finally {
    logMel.dispose();
  }
}

let pretrained: Promise<{ path: string; train: MelClip[] }> | null = null;

/** A tiny model pretrained on speakers 1–4 (train.tsv), saved to a temp checkpoint. */
export function pretrainedCheckpoint(steps = 250): Promise<{ path: string; train: MelClip[] }> {
  pretrained ??= (async () => {
    const train = await clipsFeatures(await splitClips("train"));
    const cfg = { ...DEFAULT_TRAIN, steps, batch: 8, cropFrames: 64, klWarmupSteps: 100, lr: 2e-3 };
    const model = new MelVae(TINY_MODEL, 1);
    const { mean, std } = normalizationStats(train, TINY_MODEL.features.nMels);
    model.setNormalization(mean, std);
    const trainer = new VaeTrainer(
      model,
      cfg,
      new CropSampler(train, TINY_MODEL.features.nMels, cfg.cropFrames, cfg.batch, 1),
    );
    for (let i = 0; i < steps; i++) await trainer.trainStep();
    const dir = await Deno.makeTempDir({ prefix: "adapt-base-" });
    const path = nodePath.join(dir, "base.safetensors");
    // Like `train`'s checkpoints, it carries speech it was trained on for listen to rehearse.
    const { nMels, sampleRate, hop } = TINY_MODEL.features;
    await saveCheckpoint(path, model, { replay: selectReplay(train, nMels, sampleRate / hop) });
    model.dispose();
    return { path, train };
  })();
  return pretrained;
}

/** Interleaved S16_LE bytes of float samples. */
export function toS16(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    v.setInt16(2 * i, Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), true);
  }
  return out;
}

/** Ensures the engine is up (tests call it first). */
export async function initEngine(): Promise<void> {
  await ag.init();
}
