/**
 * `deno task eval --checkpoint CKPT --data DIR [--split dev]`: evaluates a trained VAE on one
 * split — mean reconstruction log-likelihood and KL per frame, the ELBO, active latent
 * dimensions, mel log-spectral distance (dB) and mel-cepstral distortion (dB) between input and
 * reconstructed mels (z = μ). Each `--data` is a Common Voice folder, a plain folder of audio or
 * a corpus list (its split featurized into a cache first, audio/corpus.ts), or a prepared cache
 * (index.json, evaluated whole); with several, their clips are pooled.
 * @module
 */
import * as nodePath from "node:path";
import { formatSkipSummary } from "../audio/commonvoice.ts";
import type { CommonVoiceSplit } from "../audio/commonvoice.ts";
import type { CorpusSource } from "../audio/corpus.ts";
import { loadCache, type LoadedClip } from "../audio/feature_cache.ts";
import { loadModel } from "../vae/checkpoint.ts";
import { type EvalStats, evaluateClips } from "../vae/trainer.ts";
import { numberFlag, parseFlags, runCommand } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { openDataFlags, prepare, prepareOptions } from "./prepare.ts";

const USAGE =
  `usage: deno task eval --checkpoint CKPT --data SRC [--data SRC]... [--split dev] [--cache DIR]
                      [--dev-fraction 0.1] [--segment-seconds 15] [--json]
  --data    a Common Voice folder, a plain folder of audio, a corpus list, or a prepared cache
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
  json: boolean;
}

/** Parses the command line (throws UsageError before any work). */
export async function parseEvalArgs(args: string[]): Promise<EvalOptions> {
  const values = parseFlags(args, {
    checkpoint: { type: "string", default: "out/run/checkpoint.safetensors" },
    data: { type: "string", multiple: true, default: [] as string[] },
    split: { type: "string", default: "dev" },
    cache: { type: "string" },
    "dev-fraction": { type: "string" },
    "segment-seconds": { type: "string" },
    json: { type: "boolean", default: false },
  });
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
    json: values.json,
  };
}

/** Loads (preparing where needed) the split of every source and evaluates the checkpoint on all. */
export async function evaluate(opts: EvalOptions): Promise<EvalStats> {
  const { model } = await loadModel(opts.checkpoint);
  const features = model.config.features;
  const clips: LoadedClip[] = [];
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
    clips.push(...await loadCache(dir, features));
  }
  return await evaluateClips(model, clips);
}

if (import.meta.main) {
  await runCommand("eval", USAGE, async (run) => {
    const opts = await parseEvalArgs(Deno.args);
    // Sources are prepared into their caches; a prepared cache is only read.
    run.writesTo(...opts.caches.filter((_, i) => opts.data[i].kind !== "cache"));
    await initOrExit(Deno.args);
    const e = await evaluate(opts);
    if (opts.json) {
      console.log(JSON.stringify(e));
      return;
    }
    const what = opts.data
      .map((s) => (s.kind === "cache" ? s.path : `${s.path} [${opts.split}]`))
      .join(" + ");
    console.log(`${what}: ${e.clips} clips, ${e.frames} frames`);
    console.log(`  reconstruction log-likelihood ${(-e.recon).toFixed(3)} nats/frame`);
    console.log(`  KL                            ${e.kl.toFixed(3)} nats/frame`);
    console.log(`  ELBO                          ${e.elbo.toFixed(3)} nats/frame`);
    console.log(`  active latent dims            ${e.activeDims}/${e.klPerDim.length}`);
    console.log(`  mel log-spectral distance     ${e.melLsd.toFixed(2)} dB`);
    console.log(`  mel-cepstral distortion       ${e.mcd.toFixed(2)} dB`);
  });
}
