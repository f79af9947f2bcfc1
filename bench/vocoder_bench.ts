/**
 * The neural vocoder's cost beside what it replaces and what it trains next to:
 *
 * - synthesis of 10 s of audio (626 log-mel frames → 160,000 samples) by the vocoder
 *   (`DEFAULT_VOCODER`, its forward pass and the inverse STFT) against Griffin-Lim with 64
 *   iterations (`melToAudio`, the project's audio path until now), both on the GPU, each run
 *   ending with the samples read back; frames/s ÷ 62.5 is the real-time factor;
 * - one training step (forward, backward, clipping, AdamW) of the vocoder on 8 segments of 32
 *   frames, reconstruction losses only and with the discriminators, and beside it one VAE step
 *   (16 × 128 frames) — mel frames per second of training each.
 *
 * All contestants are ours (there is no peer vocoder in tfjs); the Griffin-Lim and VAE rows are
 * the baselines the issue asks to see beside the vocoder.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { LogMel } from "../audio/features.ts";
import { melToAudio } from "../audio/vocoder.ts";
import { DEFAULT_MODEL, DEFAULT_TRAIN } from "../vae/config.ts";
import { CropSampler, normalizationStats } from "../vae/data.ts";
import { MelVae } from "../vae/model.ts";
import { VaeTrainer } from "../vae/trainer.ts";
import {
  DEFAULT_DISCRIMINATOR,
  DEFAULT_VOCODER,
  DEFAULT_VOCODER_TRAIN,
} from "../vocoder/config.ts";
import { SegmentSampler } from "../vocoder/data.ts";
import { Discriminators } from "../vocoder/discriminators.ts";
import { Vocoder } from "../vocoder/model.ts";
import { VocoderTrainer } from "../vocoder/trainer.ts";
import { type BenchCase, registerBenches } from "./peer.ts";
import { speechLike } from "../tests/vocoder/signals.ts";

const SECONDS = 10;

function synthesisCase(): BenchCase {
  const samples = SECONDS * 16000;
  const frames = 1 + samples / 256;
  return {
    group: "vocoder synthesis",
    label: `${SECONDS} s of audio (${frames} frames; frames/s ÷ 62.5 = × real time)`,
    work: frames,
    unit: "frames/s",
    contestants: [{ name: "vocoder" }, { name: "Griffin-Lim, 64 iterations", n: 3 }],
    setup: () => {
      const logMel = new LogMel();
      const vocoder = new Vocoder(DEFAULT_VOCODER, 1);
      const x = speechLike(samples, 1);
      const mel = ag.tidy(() => logMel.forward(ag.tensor(x, [1, samples]))).keep();
      const melFrames = ag.tidy(() => mel.transpose(1, 2)).keep();
      const runVocoder = async () => {
        await ag.tidy(() => ag.noGrad(() => vocoder.synthesize(mel, samples)).toArray());
      };
      const runGriffinLim = async () => {
        await ag.tidy(() =>
          melToAudio(melFrames, logMel.config, { iterations: 64, seed: 1, length: samples })
            .toArray()
        );
      };
      return Promise.resolve([runVocoder, runGriffinLim]);
    },
  };
}

function trainingCase(): BenchCase {
  const { batch, segmentFrames } = DEFAULT_VOCODER_TRAIN;
  return {
    group: "vocoder training",
    label: `vocoder step, ${batch} × ${segmentFrames} frames`,
    work: batch * segmentFrames,
    unit: "frames/s",
    contestants: [{ name: "reconstruction losses" }, { name: "with discriminators", n: 3 }],
    setup: () => {
      const logMel = new LogMel();
      const clips = [speechLike(16000 * 20, 2), speechLike(16000 * 15, 3)];
      const run = (adversarialFrom: number) => {
        const trainer = new VocoderTrainer(
          new Vocoder(DEFAULT_VOCODER, 1),
          new Discriminators(DEFAULT_DISCRIMINATOR, 2),
          { ...DEFAULT_VOCODER_TRAIN, adversarialFrom },
          logMel,
        );
        const sampler = new SegmentSampler(clips, 1024, segmentFrames * 256, batch, [-6, 0], 1);
        return async () => {
          await trainer.trainStep(sampler.next());
        };
      };
      return Promise.resolve([run(0), run(1)]);
    },
  };
}

/** The VAE's step on the same audio, for scale (bench/train_step_bench.ts races it with tfjs). */
function vaeStepCase(): BenchCase {
  return {
    group: "vocoder training",
    label: "VAE step, 16 × 128 frames",
    work: 16 * 128,
    unit: "frames/s",
    contestants: [{ name: "VAE (DEFAULT_MODEL)" }],
    setup: async () => {
      const logMel = new LogMel();
      const mels = await Promise.all([speechLike(16000 * 20, 2), speechLike(16000 * 15, 3)].map(
        async (c, i) => {
          const mel = await ag.tidy(() =>
            logMel.logMelFrames(ag.tensor(c, [1, c.length])).toArray()
          );
          return { name: `clip${i}`, frames: mel.length / 80, mel };
        },
      ));
      const vae = new MelVae(DEFAULT_MODEL, 1);
      const { mean, std } = normalizationStats(mels, 80);
      vae.setNormalization(mean, std);
      const trainer = new VaeTrainer(
        vae,
        { ...DEFAULT_TRAIN, batch: 16, cropFrames: 128 },
        new CropSampler(mels, 80, 128, 16, 1),
      );
      return [async () => {
        await trainer.trainStep();
      }];
    },
  };
}

/** The cases, for `deno bench` and bench/report.ts (`vocoder`). */
export const cases: BenchCase[] = [synthesisCase(), trainingCase(), vaeStepCase()];

registerBenches(cases);
