/**
 * `deno task generate --checkpoint CKPT [--input in.wav] [--seconds N] --out out.wav`: without
 * `--input`, samples z from the prior N(0, I) and decodes it; with `--input` (WAV or MP3),
 * reconstructs that audio through the model (z = μ). Both go mel → Griffin-Lim → WAV.
 * @module
 */
import * as nodePath from "node:path";
import * as ag from "../engine/mod.ts";
import { loadAudio } from "../audio/decode.ts";
import { melToAudio } from "../audio/vocoder.ts";
import { encodeWav } from "../audio/wav.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { loadModel } from "../vae/checkpoint.ts";
import { reconstructAudio, samplePrior } from "../vae/sampling.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";

const USAGE = `usage: deno task generate --checkpoint CKPT [--input in.wav|in.mp3] [--seconds 4]
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

/** Runs generate and writes the WAV; returns its duration in seconds. */
export async function generate(opts: GenerateOptions): Promise<number> {
  const { model } = await loadModel(opts.checkpoint);
  const { sampleRate } = model.config.features;
  let samples: Float32Array | null = null;
  if (opts.input) samples = (await loadAudio(opts.input, { sampleRate })).samples;
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
    run.writesTo(nodePath.dirname(opts.out)); // the WAV and its temp file beside it
    await initOrExit(Deno.args);
    const seconds = await generate(opts);
    const what = opts.input
      ? `reconstruction of ${opts.input}`
      : `prior sample (seed ${opts.seed})`;
    console.log(`wrote ${opts.out}: ${seconds.toFixed(2)} s, ${what}`);
  });
}
