/**
 * `deno task eval --checkpoint CKPT --data DIR [--split dev]`: evaluates a trained VAE on one
 * split — mean reconstruction log-likelihood and KL per frame, the ELBO, active latent
 * dimensions, mel log-spectral distance (dB) and mel-cepstral distortion (dB) between input and
 * reconstructed mels (z = μ). DIR is a Common Voice folder (featurized into a cache first) or a
 * prepared cache (index.json).
 * @module
 */
import * as nodePath from "node:path";
import { formatSkipSummary } from "../audio/commonvoice.ts";
import { loadCache, readCacheIndex } from "../audio/feature_cache.ts";
import { loadModel } from "../vae/checkpoint.ts";
import { type EvalStats, evaluateClips } from "../vae/trainer.ts";
import { parseFlags, runCommand } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { prepare, prepareOptions } from "./prepare.ts";
import type { CommonVoiceSplit } from "../audio/commonvoice.ts";

const USAGE =
  `usage: deno task eval --checkpoint CKPT --data DIR [--split dev] [--cache DIR] [--json]`;

/** Options of one eval run. */
export interface EvalOptions {
  checkpoint: string;
  data: string;
  split: string;
  cache: string;
  json: boolean;
}

/** Parses the command line (throws UsageError before any work). */
export function parseEvalArgs(args: string[]): EvalOptions {
  const values = parseFlags(args, {
    checkpoint: { type: "string", default: "out/run/checkpoint.safetensors" },
    data: { type: "string", default: "audio/sample/en" },
    split: { type: "string", default: "dev" },
    cache: { type: "string" },
    json: { type: "boolean", default: false },
  });
  const name = nodePath.basename(nodePath.resolve(values.data));
  return {
    checkpoint: values.checkpoint,
    data: values.data,
    split: values.split,
    cache: values.cache ?? nodePath.join("out", "cache", "eval", `${name}-${values.split}`),
    json: values.json,
  };
}

/** Loads (preparing if needed) the split and evaluates the checkpoint on it. */
export async function evaluate(opts: EvalOptions): Promise<EvalStats> {
  const { model } = await loadModel(opts.checkpoint);
  const features = model.config.features;
  let dir = opts.data;
  if (!(await readCacheIndex(opts.data))) {
    const { skipped } = await prepare(prepareOptions({
      data: opts.data,
      split: opts.split as CommonVoiceSplit,
      out: opts.cache,
      features,
    }));
    if (skipped.length > 0) console.error(`eval: ${formatSkipSummary(skipped)}`);
    dir = opts.cache;
  }
  return await evaluateClips(model, await loadCache(dir, features));
}

if (import.meta.main) {
  await runCommand("eval", USAGE, async (run) => {
    const opts = parseEvalArgs(Deno.args);
    // Only a Common Voice folder is prepared (into --cache); a prepared cache is only read.
    if (!(await readCacheIndex(opts.data))) run.writesTo(opts.cache);
    await initOrExit(Deno.args);
    const e = await evaluate(opts);
    if (opts.json) {
      console.log(JSON.stringify(e));
      return;
    }
    const what = (await readCacheIndex(opts.data)) ? opts.data : `${opts.data} [${opts.split}]`;
    console.log(`${what}: ${e.clips} clips, ${e.frames} frames`);
    console.log(`  reconstruction log-likelihood ${(-e.recon).toFixed(3)} nats/frame`);
    console.log(`  KL                            ${e.kl.toFixed(3)} nats/frame`);
    console.log(`  ELBO                          ${e.elbo.toFixed(3)} nats/frame`);
    console.log(`  active latent dims            ${e.activeDims}/${e.klPerDim.length}`);
    console.log(`  mel log-spectral distance     ${e.melLsd.toFixed(2)} dB`);
    console.log(`  mel-cepstral distortion       ${e.mcd.toFixed(2)} dB`);
  });
}
