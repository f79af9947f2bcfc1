/**
 * `deno task generate --checkpoint CKPT [--input in.wav] [--seconds N] --out out.wav`: without
 * `--input`, samples z from the prior N(0, I) and decodes it; with `--input` (WAV, MP3, FLAC,
 * Ogg Vorbis or Ogg Opus, told apart by content), reconstructs that audio through the model
 * (z = μ). Both go mel → the neural vocoder (`--vocoder`, default models/vocoder.safetensors when
 * it fits the model's features) or Griffin-Lim (`--vocoder griffin-lim`, the fallback) → WAV, as
 * streams: features, model and vocoder work a chunk
 * at a time with overlapping context (audio/log_mel_stream.ts, vae/windows.ts,
 * audio/vocoder_stream.ts) and the WAV is written as it comes (audio/wav_file.ts), so memory
 * stays flat however long the audio; only a WAV file's 4 GiB bound the length.
 * @module
 */
import { type AudioStream, openAudioStream } from "../audio/decode.ts";
import { LogMel, minCenteredSamples } from "../audio/features.ts";
import { streamLogMel } from "../audio/log_mel_stream.ts";
import { streamVocoder } from "../audio/vocoder_stream.ts";
import { maxWavSeconds, WavFileWriter } from "../audio/wav_file.ts";
import { loadCheckpoint, loadModel } from "../vae/checkpoint.ts";
import { priorLatentSteps, streamPrior, streamReconstruction } from "../vae/sampling.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { formatDuration, Progress } from "./progress.ts";
import { describeAudioOut, melVocoderOf } from "../vocoder/synthesis.ts";
import { checkVocoderFlag, chooseAudioOut, VOCODER_FLAG_HELP } from "./vocoder_choice.ts";

const USAGE = `usage: deno task generate [--checkpoint CKPT] [--input audio-file] [--seconds 4]
                          [--seed 0] [--vocoder FILE|griffin-lim] [--iterations 32]
                          [--temperature 1] [--quiet] --out out.wav
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
  quiet: boolean;
  /** `--vocoder`: a file, "griffin-lim", or undefined for the default choice. */
  vocoder?: string;
}

/** Parses and checks the command line (throws UsageError before any work). */
export function parseGenerateArgs(args: string[]): GenerateOptions {
  const values = parseFlags(args, {
    checkpoint: { type: "string", default: "models/base.safetensors" },
    input: { type: "string" },
    seconds: { type: "string", default: "4" },
    seed: { type: "string", default: "0" },
    iterations: { type: "string", default: "32" },
    temperature: { type: "string", default: "1" },
    out: { type: "string" },
    quiet: { type: "boolean", default: false },
    vocoder: { type: "string" },
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
    quiet: values.quiet,
    vocoder: values.vocoder,
  };
}

/** What a generate run will make, read and checked before any GPU work. */
export interface GeneratePlan {
  /** The opened --input (its header or whole decode checked), or null for a prior sample. */
  input: AudioStream | null;
  /** Seconds of audio the WAV will hold. */
  seconds: number;
}

/**
 * Reads the checkpoint's features and opens `--input` without touching the GPU, so that a
 * broken, empty or too short file is refused by name, and a length no WAV file can hold
 * (`--seconds 1e9`, or an input of days) is refused at once, before any work.
 */
export async function planGenerate(opts: GenerateOptions): Promise<GeneratePlan> {
  const config = (await loadCheckpoint(opts.checkpoint)).model;
  const { sampleRate, nFft, hop } = config.features;
  const limit = maxWavSeconds(sampleRate);
  const tooLong = (what: string, seconds: number) =>
    new UsageError(
      `${what} is ${formatSeconds(seconds)} of audio, more than a WAV file can hold: at most ` +
        `${formatSeconds(limit)} of 16-bit mono at ${sampleRate} Hz (4 GiB)`,
    );
  if (!opts.input) {
    const frames = priorLatentSteps(config, opts.seconds) * 2 ** config.downsampleStages;
    const seconds = ((frames - 1) * hop) / sampleRate;
    if (seconds > limit) throw tooLong(`--seconds ${opts.seconds}`, seconds);
    return { input: null, seconds };
  }
  // The fewest samples that frame (a centred STFT) and give one latent step to encode.
  const oneLatentStep = (2 ** config.downsampleStages - 1) * hop;
  const input = await openAudioStream(opts.input, {
    sampleRate,
    minSamples: Math.max(minCenteredSamples(nFft), oneLatentStep),
  });
  const seconds = input.length / sampleRate;
  if (seconds > limit) throw tooLong(`--input ${opts.input}`, seconds);
  return { input, seconds };
}

/** `3.2 s`, `5m03s` or `37h17m` (for long durations, with the seconds too). */
function formatSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${formatDuration(s)} (${Math.round(s)} s)`;
}

/** Runs generate and writes the WAV; returns its duration in seconds and what voiced it. */
export async function generate(
  opts: GenerateOptions,
  plan?: GeneratePlan,
): Promise<{ seconds: number; audioOut: string }> {
  plan ??= await planGenerate(opts);
  const { model } = await loadModel(opts.checkpoint);
  const features = model.config.features;
  const out = await chooseAudioOut(opts.vocoder, features, opts.iterations);
  const logMel = new LogMel(features);
  const progress = opts.quiet ? null : new Progress("generate", Math.round(plan.seconds));
  const writer = await WavFileWriter.open(opts.out, features.sampleRate);
  try {
    const frames = plan.input
      ? streamReconstruction(model, streamLogMel(logMel, plan.input.blocks()))
      : streamPrior(model, opts);
    const vocoder = melVocoderOf(out, features, opts.seed);
    // The neural vocoder reaches ±29 frames (convolutions and iSTFT): overlap beyond that.
    const overlap = out.kind === "vocoder" ? { overlapFrames: 64 } : {};
    for await (const audio of streamVocoder(vocoder, frames, overlap)) {
      await writer.write(audio);
      progress?.update(Math.round(writer.frames / features.sampleRate), ["s of audio"]);
    }
    await writer.close();
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    logMel.dispose();
    model.dispose();
    if (out.kind === "vocoder") out.vocoder.dispose();
  }
  progress?.done(Math.round(writer.frames / features.sampleRate), ["s of audio"]);
  return { seconds: writer.frames / features.sampleRate, audioOut: describeAudioOut(out) };
}

if (import.meta.main) {
  await runCommand("generate", USAGE, async (run) => {
    const opts = parseGenerateArgs(Deno.args);
    await run.writesFile(opts.out);
    await checkVocoderFlag(opts.vocoder);
    const plan = await planGenerate(opts); // before any GPU work
    await initOrExit(Deno.args);
    const { seconds, audioOut } = await generate(opts, plan);
    const what = opts.input
      ? `reconstruction of ${opts.input}`
      : `prior sample (seed ${opts.seed})`;
    console.log(`wrote ${opts.out}: ${seconds.toFixed(2)} s, ${what}, through ${audioOut}`);
  });
}
