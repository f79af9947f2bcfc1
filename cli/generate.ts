/**
 * `deno task generate --checkpoint CKPT [--input in.wav] [--seconds N] --out out.wav`: without
 * `--input`, samples z from the prior N(0, I) and decodes it; with `--input` (WAV, MP3, FLAC,
 * Ogg Vorbis or Ogg Opus, told apart by content), reconstructs that audio through the model
 * (z = μ). Both go mel → the neural vocoder (`--vocoder`, default models/vocoder.safetensors when
 * it fits the model's features) or Griffin-Lim (`--vocoder griffin-lim`, the fallback) → WAV.
 * @module
 */
import * as nodePath from "node:path";
import * as ag from "../engine/mod.ts";
import { loadAudio } from "../audio/decode.ts";
import { minCenteredSamples } from "../audio/features.ts";
import { encodeWav } from "../audio/wav.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { loadCheckpoint, loadModel } from "../vae/checkpoint.ts";
import { reconstructAudio, samplePrior } from "../vae/sampling.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { type AudioOut, describeAudioOut, logMelToAudio } from "../vocoder/synthesis.ts";
import { checkVocoderFlag, chooseAudioOut, VOCODER_FLAG_HELP } from "./vocoder_choice.ts";

const USAGE = `usage: deno task generate --checkpoint CKPT [--input audio-file] [--seconds 4]
                          [--seed 0] [--vocoder FILE|griffin-lim] [--iterations 32]
                          [--temperature 1] --out out.wav
${VOCODER_FLAG_HELP}
  --iterations  Griffin-Lim's iterations (when it is the vocoder)`;

/** Options of one generate run. */
export interface GenerateOptions {
  checkpoint: string;
  input: string | null;
  seconds: number;
  seed: number;
  iterations: number;
  temperature: number;
  out: string;
  /** `--vocoder`: a file, "griffin-lim", or undefined for the default choice. */
  vocoder?: string;
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
    vocoder: { type: "string" },
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
    vocoder: values.vocoder,
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

/** Runs generate and writes the WAV; returns its duration in seconds and what voiced it. */
export async function generate(
  opts: GenerateOptions,
  input?: Float32Array | null,
): Promise<{ seconds: number; audioOut: string }> {
  const samples = input !== undefined ? input : await readGenerateInput(opts);
  const { model } = await loadModel(opts.checkpoint);
  const { sampleRate } = model.config.features;
  const out: AudioOut = await chooseAudioOut(opts.vocoder, model.config.features, opts.iterations);
  const audio = await ag.tidy(async () => {
    const mel = samples
      ? reconstructAudio(model, samples)
      : samplePrior(model, opts.seconds, opts.seed, opts.temperature);
    return await logMelToAudio(mel, model.config.features, out, { seed: opts.seed }).toArray();
  });
  if (out.kind === "vocoder") out.vocoder.dispose();
  await writeFileAtomic(opts.out, encodeWav(audio, sampleRate));
  return { seconds: audio.length / sampleRate, audioOut: describeAudioOut(out) };
}

if (import.meta.main) {
  await runCommand("generate", USAGE, async (run) => {
    const opts = parseGenerateArgs(Deno.args);
    run.writesTo(nodePath.dirname(opts.out)); // the WAV and its temp file beside it
    await checkVocoderFlag(opts.vocoder);
    const input = await readGenerateInput(opts); // before any GPU work
    await initOrExit(Deno.args);
    const { seconds, audioOut } = await generate(opts, input);
    const what = opts.input
      ? `reconstruction of ${opts.input}`
      : `prior sample (seed ${opts.seed})`;
    console.log(`wrote ${opts.out}: ${seconds.toFixed(2)} s, ${what}, through ${audioOut}`);
  });
}
