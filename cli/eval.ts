/**
 * `deno task eval --checkpoint CKPT --data DIR [--split dev]`: evaluates a trained VAE on one
 * split — mean reconstruction log-likelihood and KL per frame, the ELBO, active latent
 * dimensions, mel log-spectral distance (dB) and mel-cepstral distortion (dB) between input and
 * reconstructed mels (z = μ). Each `--data` is a Common Voice folder, a plain folder of audio or
 * a corpus list (its split featurized into a cache first, audio/corpus.ts), or a prepared cache
 * (index.json, evaluated whole); with several, their clips are pooled.
 *
 * Where the clips' audio is at hand (any source but a bare cache), the same reconstructions are
 * also measured through the waveform (vae/waveform_eval.ts): decoder → vocoder (`--vocoder`) →
 * re-analysis against the input audio with a floor relative to each clip's peak — what a
 * listener hears — per clip and as the mean.
 * @module
 */
import * as nodePath from "node:path";
import { formatSkipSummary } from "../audio/commonvoice.ts";
import type { CommonVoiceSplit } from "../audio/commonvoice.ts";
import { audioFileOf, type CorpusSource, loadClipAudio } from "../audio/corpus.ts";
import { loadCache, type LoadedClip } from "../audio/feature_cache.ts";
import { loadModel } from "../vae/checkpoint.ts";
import { type EvalStats, evaluateClips } from "../vae/trainer.ts";
import {
  scoreClips,
  summarize,
  type WaveformScore,
  type WaveformSummary,
} from "../vae/waveform_eval.ts";
import type { MelVae } from "../vae/model.ts";
import { numberFlag, parseFlags, runCommand } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { type AudioOut, describeAudioOut, melVocoderOf } from "../vocoder/synthesis.ts";
import { checkVocoderFlag, chooseAudioOut } from "./vocoder_choice.ts";
import { openDataFlags, prepare, prepareOptions } from "./prepare.ts";

const USAGE =
  `usage: deno task eval [--checkpoint CKPT] --data SRC [--data SRC]... [--split dev] [--cache DIR]
                      [--dev-fraction 0.1] [--segment-seconds 15]
                      [--vocoder FILE|griffin-lim|none]
                      [--iterations 64] [--per-clip] [--json]
  --data    a Common Voice folder, a plain folder of audio, a corpus list, or a prepared cache
  --vocoder what turns the reconstructed mels into audio for the measure through the waveform:
            a vocoder file; griffin-lim (TARGETS.md's baseline, --iterations of it); none
            (features only); default models/vocoder.safetensors when it fits the model's
            features (what generate speaks through), else Griffin-Lim
  --cache   where a source's split is prepared; with several --data, the folder holding one
            cache per source (<source name>/<split>); default out/cache/eval/<source name>/<split>`;

/** Options of one eval run. */
export interface EvalOptions {
  checkpoint: string;
  /** The sources, opened. */
  data: CorpusSource[];
  split: string;
  /** Where each source that is not a prepared cache is prepared, in `data`'s order. */
  caches: string[];
  devFraction: number;
  segmentSeconds: number;
  /** `--vocoder`: a file, "griffin-lim", "none", or undefined for generate's default. */
  vocoder?: string;
  iterations: number;
  perClip: boolean;
  json: boolean;
}

/** What eval measured: the feature-domain stats, and the waveform scores where there was audio. */
export interface EvalResult {
  stats: EvalStats;
  /** Null without audio (bare caches) or with `--vocoder none`. */
  waveform: { vocoder: string; summary: WaveformSummary; clips: WaveformScore[] } | null;
}

/** Parses the command line (throws UsageError before any work). */
export async function parseEvalArgs(args: string[]): Promise<EvalOptions> {
  const values = parseFlags(args, {
    checkpoint: { type: "string", default: "models/base.safetensors" },
    data: { type: "string", multiple: true, default: [] as string[] },
    split: { type: "string", default: "dev" },
    cache: { type: "string" },
    "dev-fraction": { type: "string" },
    "segment-seconds": { type: "string" },
    vocoder: { type: "string" },
    iterations: { type: "string", default: "64" },
    "per-clip": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  });
  if (values.vocoder !== "none") await checkVocoderFlag(values.vocoder);
  const data = await openDataFlags(values.data.length ? values.data : ["audio/sample/en"]);
  const split = prepareOptions({
    split: values.split as CommonVoiceSplit,
    devFraction: numberFlag("dev-fraction", values["dev-fraction"], { min: 0 }),
    segmentSeconds: numberFlag("segment-seconds", values["segment-seconds"], { min: 0 }),
  });
  const root = values.cache ?? nodePath.join("out", "cache", "eval");
  const caches = data.map((s) =>
    data.length === 1 && values.cache ? values.cache : nodePath.join(root, s.name, values.split)
  );
  return {
    checkpoint: values.checkpoint,
    data,
    split: values.split,
    caches,
    devFraction: split.devFraction,
    segmentSeconds: split.segmentSeconds,
    vocoder: values.vocoder,
    iterations: numberFlag("iterations", values.iterations, { min: 1, integer: true })!,
    perClip: values["per-clip"],
    json: values.json,
  };
}

/** Loads (preparing where needed) the split of every source and evaluates the checkpoint on all. */
export async function evaluate(opts: EvalOptions): Promise<EvalResult> {
  const { model } = await loadModel(opts.checkpoint);
  const features = model.config.features;
  // The vocoder is chosen (and a file of other features refused) before any work.
  const out = opts.vocoder === "none"
    ? null
    : await chooseAudioOut(opts.vocoder, features, opts.iterations);
  try {
    return await evaluateWith(opts, model, out);
  } finally {
    if (out?.kind === "vocoder") out.vocoder.dispose();
  }
}

async function evaluateWith(
  opts: EvalOptions,
  model: MelVae,
  out: AudioOut | null,
): Promise<EvalResult> {
  const features = model.config.features;
  const clips: LoadedClip[] = [];
  const audioOf = new Map<LoadedClip, ReturnType<typeof audioFileOf>>();
  for (const [i, source] of opts.data.entries()) {
    let dir = source.path;
    if (source.kind !== "cache") {
      const { skipped } = await prepare(prepareOptions({
        data: source.path,
        split: opts.split as CommonVoiceSplit,
        out: opts.caches[i],
        features,
        devFraction: opts.devFraction,
        segmentSeconds: opts.segmentSeconds,
      }));
      const which = opts.data.length > 1 ? `${source.path}: ` : "";
      if (skipped.length > 0) console.error(`eval: ${which}${formatSkipSummary(skipped)}`);
      dir = opts.caches[i];
    }
    const loaded = await loadCache(dir, features);
    if (source.kind !== "cache") { for (const c of loaded) audioOf.set(c, audioFileOf(source, c)); }
    clips.push(...loaded);
  }
  const stats = await evaluateClips(model, clips);
  if (out === null || audioOf.size === 0) return { stats, waveform: null };
  const vocoder = melVocoderOf(out, features, 1);
  const audio: { name: string; samples: Float32Array }[] = [];
  for (const [clip, where] of audioOf) {
    audio.push({ name: clip.name, samples: await loadClipAudio(where, features.sampleRate) });
  }
  const scores = await scoreClips(model, audio, features, vocoder, (_s, i) => {
    if (!opts.json) {
      Deno.stderr.writeSync(
        new TextEncoder().encode(`\rthrough the waveform ${i + 1}/${audio.length}`),
      );
    }
  });
  if (!opts.json) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  return {
    stats,
    waveform: {
      vocoder: describeAudioOut(out),
      summary: summarize(scores),
      clips: scores,
    },
  };
}

if (import.meta.main) {
  await runCommand("eval", USAGE, async (run) => {
    const opts = await parseEvalArgs(Deno.args);
    // Sources are prepared into their caches; a prepared cache is only read.
    run.writesTo(...opts.caches.filter((_, i) => opts.data[i].kind !== "cache"));
    await initOrExit(Deno.args);
    const { stats: e, waveform } = await evaluate(opts);
    if (opts.json) {
      console.log(JSON.stringify({ ...e, waveform }));
      return;
    }
    const what = opts.data
      .map((s) => (s.kind === "cache" ? s.path : `${s.path} [${opts.split}]`))
      .join(" + ");
    const f = (v: number) => v.toFixed(2);
    console.log(`${what}: ${e.clips} clips, ${e.frames} frames`);
    console.log(`  reconstruction log-likelihood ${(-e.recon).toFixed(3)} nats/frame`);
    console.log(`  KL                            ${e.kl.toFixed(3)} nats/frame`);
    console.log(`  ELBO                          ${e.elbo.toFixed(3)} nats/frame`);
    console.log(`  active latent dims            ${e.activeDims}/${e.klPerDim.length}`);
    console.log(`  mel-LSD (features)            ${f(e.melLsd)} dB`);
    console.log(`  mel-cepstral distortion       ${f(e.mcd)} dB`);
    if (!waveform) {
      console.log(
        opts.vocoder === "none"
          ? "  through the waveform          not measured (--vocoder none)"
          : "  through the waveform          needs the clips' audio: give a corpus, not a cache",
      );
      return;
    }
    const w = waveform.summary;
    console.log(
      `  through the waveform          mel-LSD ${f(w.melLsd)} dB, LSD ${f(w.lsd)} dB ` +
        `(${waveform.vocoder}; ${w.clips} clips)`,
    );
    if (opts.perClip) {
      console.log("\n| clip | seconds | mel-LSD, features | mel-LSD, waveform | LSD, waveform |");
      console.log("|---|---|---|---|---|");
      for (const c of waveform.clips) {
        console.log(
          `| ${c.name} | ${c.seconds.toFixed(1)} | ${f(c.featureMelLsd)} | ${f(c.melLsd)} | ` +
            `${f(c.lsd)} |`,
        );
      }
      console.log(`| mean | | ${f(w.featureMelLsd)} | ${f(w.melLsd)} | ${f(w.lsd)} |`);
    }
    console.log(
      "  (mel-LSD: per frame the RMS over 80 unit-peak HTK mel bands of the dB difference, " +
        "averaged over frames, then clips; features: P = mel power + 1e-5; waveform: the " +
        "output re-analysed, aligned by the lag in ±2048 samples that minimises it, " +
        "P = max(power, 1e-8 × the clip's peak))",
    );
  });
}
