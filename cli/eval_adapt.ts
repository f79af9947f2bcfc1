/**
 * `deno task eval:adapt`: does live adaptation learn a recorded person's voice, and does the
 * model forget speech meanwhile? For each real speaker with a minute or more in
 * `../shared/data/speech` (LJSpeech, four VCTK speakers, a radio address cut into clips), at
 * most `--heard-seconds` (60) of that speaker go through the same pipeline as `listen --input`
 * (voice activity, blocks, adaptation steps, replay — the `listen` function itself), and then
 *
 *   - that speaker's clips that were never heard, and
 *   - other people's held-out clips (the base model's dev split: forgetting)
 *
 * are reconstructed by the base and by the adapted model and scored: mel-LSD in the feature
 * domain (TARGETS.md) and through the waveform (vocoder → re-analysis, relative floor). One table:
 * speaker, seconds heard, wall seconds, held-out base → adapted (%), others base → adapted (%).
 * @module
 */
import * as nodePath from "node:path";
import { loadAudio } from "../audio/decode.ts";
import { encodeWav } from "../audio/wav.ts";
import { loadModel } from "../vae/checkpoint.ts";
import type { MelVae } from "../vae/model.ts";
import { GriffinLimVocoder, type MelVocoder } from "../audio/vocoder.ts";
import { scoreClips, summarize, type WaveformSummary } from "../vae/waveform_eval.ts";
import { numberFlag, parseFlags, runCommand } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { listen, parseListenArgs } from "./listen.ts";

const USAGE = `usage: deno task eval:adapt [--checkpoint CKPT] [--speech DIR] [--others LIST]
                            [--heard-seconds 60] [--held-out-clips 6] [--others-clips 12]
                            [--iterations 64] [--speaker NAME] [--out DIR] [--json]
                            [-- listen flags…]
  --speech   the real-speech folder (default ../shared/data/speech)
  --others   a corpus list (path, speaker, split columns) whose dev rows are the other
             speakers' held-out clips (default models/base.corpus.tsv)
  --iterations  Griffin-Lim iterations of the waveform measure (0: features only, quick)
  --speaker  only the speakers whose name contains this
  after --, flags passed to listen (e.g. --steps-per-second 8 --encoder-layers 2)`;

/** A recorded voice to adapt to: its files under the speech folder, in order. */
export interface AdaptSpeaker {
  name: string;
  /** Folder (relative to the speech folder) and a file-name pattern. */
  folder: string;
  pattern: RegExp;
  /** Cut each file into clips of about this many seconds (one long recording). */
  cutSeconds?: number;
}

/** The real speakers with ≥ 60 s each (../shared/data/speech/SOURCES.md). */
export const ADAPT_SPEAKERS: readonly AdaptSpeaker[] = [
  { name: "LJSpeech (F)", folder: "ljspeech-coqui-tts/wavs", pattern: /\.wav$/ },
  { name: "VCTK p225 (F)", folder: "vctk-autovc/wavs/p225", pattern: /\.wav$/ },
  { name: "VCTK p226 (M)", folder: "vctk-autovc/wavs/p226", pattern: /\.wav$/ },
  { name: "VCTK p227 (M)", folder: "vctk-autovc/wavs/p227", pattern: /\.wav$/ },
  { name: "VCTK p228 (F)", folder: "vctk-autovc/wavs/p228", pattern: /\.wav$/ },
  {
    name: "radio address (M)",
    folder: "gwbush-radio-2008-11-01",
    pattern: /\.wav$/,
    cutSeconds: 10,
  },
];

/** Clips of audio at the model rate. */
interface Clip {
  name: string;
  samples: Float32Array;
}

/** A speaker's clips, split into what is heard (≤ `heardSeconds`) and what is held out. */
export function splitHeard(
  clips: readonly Clip[],
  sampleRate: number,
  heardSeconds: number,
  minHeldOut = 2,
): { heard: Clip[]; heldOut: Clip[] } {
  const heard: Clip[] = [];
  let seconds = 0;
  for (const c of clips) {
    const s = c.samples.length / sampleRate;
    if (seconds + s > heardSeconds || clips.length - heard.length <= minHeldOut) break;
    heard.push(c);
    seconds += s;
  }
  return { heard, heldOut: clips.slice(heard.length) };
}

/** Cuts a long recording into consecutive clips of `seconds` (the last one takes the rest). */
export function cutIntoClips(clip: Clip, sampleRate: number, seconds: number): Clip[] {
  const n = Math.round(seconds * sampleRate);
  const out: Clip[] = [];
  for (let s = 0, k = 0; s < clip.samples.length; s += n, k++) {
    const rest = clip.samples.length - (s + n);
    const end = rest < n / 2 ? clip.samples.length : s + n;
    out.push({ name: `${clip.name}#${k}`, samples: clip.samples.slice(s, end) });
    if (end === clip.samples.length) break;
  }
  return out;
}

async function speakerClips(root: string, sp: AdaptSpeaker, sampleRate: number): Promise<Clip[]> {
  const dir = nodePath.join(root, sp.folder);
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && sp.pattern.test(e.name)) names.push(e.name);
  }
  names.sort();
  const clips: Clip[] = [];
  for (const n of names) {
    const path = nodePath.join(dir, n);
    const { samples } = await loadAudio(path, { sampleRate });
    const clip = { name: nodePath.join(sp.folder, n), samples };
    clips.push(...(sp.cutSeconds ? cutIntoClips(clip, sampleRate, sp.cutSeconds) : [clip]));
  }
  return clips;
}

/** The dev rows of a corpus list file (path, speaker, split; paths relative to the list). */
async function devClipsOfList(list: string, sampleRate: number, max: number): Promise<Clip[]> {
  const lines = (await Deno.readTextFile(list)).split(/\r?\n/).filter((l) => l.trim());
  const header = lines[0].split("\t");
  const [pi, si] = [header.indexOf("path"), header.indexOf("split")];
  if (pi < 0 || si < 0) throw new Error(`${list}: needs path and split columns`);
  const rows = lines.slice(1).map((l) => l.split("\t")).filter((r) => r[si] === "dev");
  // Spread the picks over the list (it is sorted by folder): every k-th dev row.
  const step = Math.max(1, Math.floor(rows.length / max));
  const out: Clip[] = [];
  for (let i = 0; i < rows.length && out.length < max; i += step) {
    const path = nodePath.join(nodePath.dirname(list), rows[i][pi]);
    out.push({ name: rows[i][pi], samples: (await loadAudio(path, { sampleRate })).samples });
  }
  return out;
}

/** One row of the table. */
export interface AdaptRow {
  speaker: string;
  heardSeconds: number;
  voicedSeconds: number;
  steps: number;
  wallSeconds: number;
  heldOutClips: number;
  heldOut: { base: WaveformSummary; adapted: WaveformSummary };
  others: { base: WaveformSummary; adapted: WaveformSummary };
}

const pct = (a: number, b: number) => `${((b / a - 1) * 100).toFixed(1)} %`;

/** The table as Markdown, both measures side by side. */
export function formatAdaptTable(rows: readonly AdaptRow[]): string {
  const out = [
    "| speaker | heard (voiced) s | steps | wall s | held-out mel-LSD, features: base → adapted | through the waveform | others, features | others, waveform |",
    "|---|---|---|---|---|---|---|---|",
  ];
  const cell = (b: number, a: number) => `${b.toFixed(2)} → ${a.toFixed(2)} (${pct(b, a)})`;
  for (const r of rows) {
    out.push(
      `| ${r.speaker} | ${r.heardSeconds.toFixed(1)} (${
        r.voicedSeconds.toFixed(1)
      }) | ${r.steps} | ` +
        `${r.wallSeconds.toFixed(0)} | ` +
        `${cell(r.heldOut.base.featureMelLsd, r.heldOut.adapted.featureMelLsd)} | ` +
        `${cell(r.heldOut.base.melLsd, r.heldOut.adapted.melLsd)} | ` +
        `${cell(r.others.base.featureMelLsd, r.others.adapted.featureMelLsd)} | ` +
        `${cell(r.others.base.melLsd, r.others.adapted.melLsd)} |`,
    );
  }
  if (rows.length > 1) {
    const mean = (f: (r: AdaptRow) => number) => rows.reduce((s, r) => s + f(r), 0) / rows.length;
    const gain = (f: (r: AdaptRow) => [number, number]) =>
      `${(mean((r) => f(r)[1] / f(r)[0] - 1) * 100).toFixed(1)} %`;
    out.push(
      `| mean | | | ${mean((r) => r.wallSeconds).toFixed(0)} | ` +
        `${gain((r) => [r.heldOut.base.featureMelLsd, r.heldOut.adapted.featureMelLsd])} | ` +
        `${gain((r) => [r.heldOut.base.melLsd, r.heldOut.adapted.melLsd])} | ` +
        `${gain((r) => [r.others.base.featureMelLsd, r.others.adapted.featureMelLsd])} | ` +
        `${gain((r) => [r.others.base.melLsd, r.others.adapted.melLsd])} |`,
    );
  }
  return out.join("\n");
}

if (import.meta.main) {
  await runCommand("eval:adapt", USAGE, async (run) => {
    const dash = Deno.args.indexOf("--");
    const own = dash < 0 ? Deno.args : Deno.args.slice(0, dash);
    const listenFlags = dash < 0 ? [] : Deno.args.slice(dash + 1);
    const values = parseFlags(own, {
      checkpoint: { type: "string", default: "models/base.safetensors" },
      speech: { type: "string", default: "../shared/data/speech" },
      others: { type: "string", default: "models/base.corpus.tsv" },
      "heard-seconds": { type: "string", default: "60" },
      "held-out-clips": { type: "string", default: "6" },
      "others-clips": { type: "string", default: "12" },
      iterations: { type: "string", default: "64" },
      speaker: { type: "string" },
      out: { type: "string", default: "out/eval-adapt" },
      json: { type: "boolean", default: false },
    });
    const heardSeconds = numberFlag("heard-seconds", values["heard-seconds"], { min: 1 })!;
    const maxHeldOut = numberFlag("held-out-clips", values["held-out-clips"], { min: 1 })!;
    const othersClips = numberFlag("others-clips", values["others-clips"], { min: 1 })!;
    // Griffin-Lim iterations of the waveform measure; 0 measures the features only (quick).
    const iterations = numberFlag("iterations", values.iterations, { min: 0, integer: true })!;
    run.writesTo(values.out);
    await initOrExit(own);
    await Deno.mkdir(values.out, { recursive: true });
    const { model: base } = await loadModel(values.checkpoint);
    const features = base.config.features;
    const rate = features.sampleRate;
    const vocoder: MelVocoder | null = iterations > 0
      ? new GriffinLimVocoder(features, { iterations, seed: 1 })
      : null;
    const score = async (model: MelVae, clips: Clip[]) =>
      summarize(await scoreClips(model, clips, features, vocoder));
    const others = await devClipsOfList(values.others, rate, othersClips);
    const othersBase = await score(base, others);
    const rows: AdaptRow[] = [];
    const speakers = ADAPT_SPEAKERS.filter((s) =>
      !values.speaker || s.name.includes(values.speaker)
    );
    for (const sp of speakers) {
      const clips = await speakerClips(values.speech, sp, rate);
      const { heard, heldOut: rest } = splitHeard(clips, rate, heardSeconds);
      const heldOut = rest.slice(0, maxHeldOut);
      const slug = sp.name.replace(/[^A-Za-z0-9]+/g, "-").replace(/-$/, "").toLowerCase();
      const heardWav = nodePath.join(values.out, `${slug}-heard.wav`);
      const total = heard.reduce((n, c) => n + c.samples.length, 0);
      const joined = new Float32Array(total);
      heard.reduce((at, c) => (joined.set(c.samples, at), at + c.samples.length), 0);
      await Deno.writeFile(heardWav, encodeWav(joined, rate));
      const adaptedPath = nodePath.join(values.out, `${slug}-adapted.safetensors`);
      await Deno.remove(adaptedPath).catch(() => {});
      const opts = parseListenArgs([
        "--checkpoint",
        values.checkpoint,
        "--input",
        heardWav,
        "--out",
        adaptedPath,
        "--quiet",
        ...listenFlags,
      ]);
      const t0 = performance.now();
      const summary = await listen(opts);
      const wallSeconds = (performance.now() - t0) / 1000;
      const { model: adapted } = await loadModel(adaptedPath);
      const row: AdaptRow = {
        speaker: sp.name,
        heardSeconds: summary.heard,
        voicedSeconds: summary.voiced,
        steps: summary.steps,
        wallSeconds,
        heldOutClips: heldOut.length,
        heldOut: { base: await score(base, heldOut), adapted: await score(adapted, heldOut) },
        others: { base: othersBase, adapted: await score(adapted, others) },
      };
      adapted.dispose();
      rows.push(row);
      if (!values.json) console.error(formatAdaptTable([row]).split("\n").at(-1));
    }
    if (values.json) console.log(JSON.stringify(rows));
    else console.log(formatAdaptTable(rows));
  });
}
