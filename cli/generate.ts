/**
 * `deno task generate --checkpoint CKPT [--input in.wav] [--seconds N] --out out.wav`: without
 * `--input`, samples z from the prior N(0, I) and decodes it; with `--input` (WAV, MP3, FLAC,
 * Ogg Vorbis or Ogg Opus, told apart by content), reconstructs that audio through the model
 * (z = μ). Both go mel → Griffin-Lim → WAV.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { loadAudio } from "../audio/decode.ts";
import { minCenteredSamples } from "../audio/features.ts";
import { melToAudio } from "../audio/vocoder.ts";
import { encodeWav } from "../audio/wav.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { loadCheckpoint, loadModel } from "../vae/checkpoint.ts";
import { reconstructAudio, samplePrior } from "../vae/sampling.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";

const USAGE = `usage: deno task generate --checkpoint CKPT [--input audio-file] [--seconds 4]
                          [--seed 0] [--iterations 32] [--temperature 1] --out out.wav`;

/** Options of one generate run. */
export interface GenerateOptions {
  checkpoint: string;
  input: string | null;
  seconds: number;
  seed: number;
  iterations: number;
  temperature: number;
  out: string;
}

/** Parses and checks the command line (throws UsageError before any work). */
export function parseGenerateArgs(args: string[]): GenerateOptions {
  const values = parseFlags(args, {
    checkpoint: { type: "string", default: "out/run/checkpoint.safetensors" },
    input: { type: "string" },
    seconds: { type: "string", default: "4" },
    seed: { type: "string", default: "0" },
    iterations: { type: "string", default: "32" },
    temperature: { type: "string", default: "1" },
    out: { type: "string" },
  });
  if (!values.out) throw new UsageError("--out out.wav is required");
  return {
    checkpoint: values.checkpoint,
    input: values.input ?? null,
    seconds: numberFlag("seconds", values.seconds, { min: 0.1 })!,
    seed: numberFlag("seed", values.seed, { min: 0, integer: true })!,
    iterations: numberFlag("iterations", values.iterations, { min: 1, integer: true })!,
    temperature: numberFlag("temperature", values.temperature, { min: 0 })!,
    out: values.out,
  };
}

/**
 * Decodes `--input` at the checkpoint's rate without touching the GPU, so that a broken, empty
 * or too short file is refused by name before any GPU work; null without `--input`.
 */
export async function readGenerateInput(opts: GenerateOptions): Promise<Float32Array | null> {
  if (!opts.input) return null;
  const { sampleRate, nFft } = (await loadCheckpoint(opts.checkpoint)).model.features;
  const minSamples = minCenteredSamples(nFft);
  return (await loadAudio(opts.input, { sampleRate, minSamples })).samples;
}

/** Runs generate and writes the WAV; returns its duration in seconds. */
export async function generate(
  opts: GenerateOptions,
  input?: Float32Array | null,
): Promise<number> {
  const samples = input !== undefined ? input : await readGenerateInput(opts);
  const { model } = await loadModel(opts.checkpoint);
  const { sampleRate } = model.config.features;
  const audio = await ag.tidy(async () => {
    const mel = samples
      ? reconstructAudio(model, samples)
      : samplePrior(model, opts.seconds, opts.seed, opts.temperature);
    return await melToAudio(mel, model.config.features, {
      iterations: opts.iterations,
      seed: opts.seed,
    }).toArray();
  });
  await writeFileAtomic(opts.out, encodeWav(audio, sampleRate));
  return audio.length / sampleRate;
}

if (import.meta.main) {
  await runCommand("generate", USAGE, async (run) => {
    const opts = parseGenerateArgs(Deno.args);
    await run.writesFile(opts.out);
    const input = await readGenerateInput(opts); // before any GPU work
    await initOrExit(Deno.args);
    const seconds = await generate(opts, input);
    const what = opts.input
      ? `reconstruction of ${opts.input}`
      : `prior sample (seed ${opts.seed})`;
    console.log(`wrote ${opts.out}: ${seconds.toFixed(2)} s, ${what}`);
  });
}
