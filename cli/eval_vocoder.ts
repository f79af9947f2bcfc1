/**
 * `deno task eval:vocoder`: measures a vocoder against Griffin-Lim (64 iterations) on the
 * held-out sets of vocoder/corpus_recipe.json, through the waveform (audio/waveform_distance.ts),
 * from the clips' true log-mels and, with `--vae`, from a VAE's reconstruction of them (z = μ):
 * the table of the README. Prints one Markdown table.
 * @module
 */
import { LogMel } from "../audio/features.ts";
import { loadModel } from "../vae/checkpoint.ts";
import { checkSameFeatures } from "../vocoder/config.ts";
import { loadClips, planCorpus, readRecipe } from "../vocoder/corpus.ts";
import { loadVocoder } from "../vocoder/checkpoint.ts";
import {
  griffinLimClip,
  meanDistance,
  measureClips,
  type MelTransform,
  vocodeClip,
} from "../vocoder/trainer.ts";
import { vaeReconstruction } from "../vocoder/vae_mels.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";

const USAGE =
  `usage: deno task eval:vocoder [--vocoder FILE] [--vae CKPT] [--sets cv,voices,librispeech]
                              [--eval-clips N] [--recipe FILE.json] [--no-gpu]
  --vocoder  a vocoder file (default models/vocoder.safetensors)
  --vae      also measure through this VAE (input → VAE, z = μ → vocoder or Griffin-Lim)`;

/** One row of the table. */
export interface VocoderEvalRow {
  set: string;
  clips: number;
  input: string;
  griffinLim: { melLsd: number; lsd: number };
  vocoder: { melLsd: number; lsd: number };
}

/** Measures `vocoderPath` (and Griffin-Lim) on the held-out sets; one row per set and input. */
export async function evaluateVocoder(opts: {
  vocoderPath: string;
  vaePath: string | null;
  sets: string[] | null;
  evalClips: number;
  recipe: string | null;
  log?: (line: string) => void;
}): Promise<VocoderEvalRow[]> {
  const vocoder = await loadVocoder(opts.vocoderPath);
  const features = vocoder.config.features;
  const logMel = new LogMel(features);
  const inputs: [string, MelTransform | null][] = [["true mels", null]];
  if (opts.vaePath) {
    const { model } = await loadModel(opts.vaePath);
    checkSameFeatures(features, model.config.features, opts.vocoderPath, `the VAE ${opts.vaePath}`);
    inputs.push([`VAE (z = μ)`, vaeReconstruction(model)]);
  }
  const plan = await planCorpus(await readRecipe(opts.recipe ?? undefined));
  const rows: VocoderEvalRow[] = [];
  for (const [set, files] of Object.entries(plan.eval)) {
    if (opts.sets && !opts.sets.includes(set)) continue;
    const { clips, skipped } = await loadClips(plan.root, files.slice(0, opts.evalClips), {
      sampleRate: features.sampleRate,
    });
    if (skipped.length) opts.log?.(`${set}: ${skipped.length} clips not decodable, skipped`);
    if (!clips.length) continue;
    for (const [input, transform] of inputs) {
      const gl = meanDistance(
        await measureClips(clips, (s) => griffinLimClip(logMel, s, transform)),
      );
      const voc = meanDistance(
        await measureClips(clips, (s) => vocodeClip(vocoder, logMel, s, transform)),
      );
      rows.push({ set, clips: clips.length, input, griffinLim: gl, vocoder: voc });
      opts.log?.(`${set}, ${input}: done`);
    }
  }
  return rows;
}

/** The rows as a Markdown table (dB, and the vocoder's change from Griffin-Lim). */
export function formatVocoderTable(rows: readonly VocoderEvalRow[]): string {
  const pct = (a: number, b: number) =>
    `${a <= b ? "−" : "+"}${Math.abs(100 * (a / b - 1)).toFixed(0)} %`;
  const lines = [
    "| held-out set | input | Griffin-Lim 64: mel-LSD / LSD | vocoder: mel-LSD / LSD | change |",
    "|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.set} (${r.clips} clips) | ${r.input} | ${r.griffinLim.melLsd.toFixed(2)} / ` +
        `${r.griffinLim.lsd.toFixed(2)} | ${r.vocoder.melLsd.toFixed(2)} / ${
          r.vocoder.lsd.toFixed(2)
        } | ` +
        `${pct(r.vocoder.melLsd, r.griffinLim.melLsd)} / ${pct(r.vocoder.lsd, r.griffinLim.lsd)} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  await runCommand("eval:vocoder", USAGE, async () => {
    const v = parseFlags(Deno.args, {
      vocoder: { type: "string", default: "models/vocoder.safetensors" },
      vae: { type: "string" },
      sets: { type: "string" },
      "eval-clips": { type: "string" },
      recipe: { type: "string" },
    });
    const evalClips = numberFlag("eval-clips", v["eval-clips"], { min: 1, integer: true }) ??
      Infinity;
    for (const [flag, path] of [["vocoder", v.vocoder], ["vae", v.vae]] as const) {
      if (path && !(await Deno.stat(path).catch(() => null))?.isFile) {
        throw new UsageError(`--${flag} ${path} is not a file`);
      }
    }
    await initOrExit(Deno.args);
    const rows = await evaluateVocoder({
      vocoderPath: v.vocoder!,
      vaePath: v.vae ?? null,
      sets: v.sets ? v.sets.split(",") : null,
      evalClips,
      recipe: v.recipe ?? null,
      log: (line) => console.error(line),
    });
    console.log(formatVocoderTable(rows));
  });
}
