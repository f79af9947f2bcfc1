/**
 * `deno task train`: trains the mel VAE. With no arguments it prepares the bundled sample corpus
 * and trains for a few minutes on this machine, leaving in `--out` (default out/run):
 * `checkpoint.safetensors` (weights, optimizer and RNG state, configs, history), `report.html`
 * and `sample.wav` (a prior sample through Griffin-Lim). `--resume` continues exactly from the
 * checkpoint; Ctrl-C saves a checkpoint before exiting.
 * @module
 */
import * as nodePath from "node:path";
import * as ag from "../engine/mod.ts";
import { formatSkipSummary } from "../audio/commonvoice.ts";
import { audioFileOf, type CorpusSource, loadClipAudio } from "../audio/corpus.ts";
import {
  type CacheIndex,
  loadCache,
  loadClipsAt,
  type LoadedClip,
  openCache,
} from "../audio/feature_cache.ts";
import { ShardReader, type TrainingShards, trainingShards } from "../audio/shard_reader.ts";
import { GriffinLimVocoder, type MelVocoder } from "../audio/vocoder.ts";
import {
  type AudioOut,
  describeAudioOut,
  logMelToAudio,
  NeuralMelVocoder,
} from "../vocoder/synthesis.ts";
import { checkVocoderFlag, chooseAudioOut } from "./vocoder_choice.ts";
import { encodeWav } from "../audio/wav.ts";
import { removeStaleTempFiles, writeFileAtomic } from "../io/atomic_file.ts";
import {
  ConfigError,
  DEFAULT_MODEL,
  DEFAULT_TRAIN,
  mergeConfig,
  type ModelConfig,
  type TrainConfig,
  validateModelConfig,
  validateTrainConfig,
} from "../vae/config.ts";
import {
  checkModelConfig,
  loadCheckpoint,
  type LoadedCheckpoint,
  loadModelWeights,
  loadOptimizerState,
  saveCheckpoint,
} from "../vae/checkpoint.ts";
import { cutReplay, type MelClip, replayPicks } from "../vae/data.ts";
import { CacheBudgetError, ShardSampler } from "../vae/shard_sampler.ts";
import { MelVae } from "../vae/model.ts";
import { samplePrior } from "../vae/sampling.ts";
import {
  scoreClips,
  summarize,
  WAVEFORM_METRIC_DEFINITIONS,
  type WaveformSummary,
} from "../vae/waveform_eval.ts";
import {
  EVAL_METRIC_DEFINITIONS,
  type EvalStats,
  type IntervalStats,
  NonFiniteError,
  reconstructClip,
  VaeTrainer,
} from "../vae/trainer.ts";
import {
  type EvalPoint,
  renderReport,
  type ReportExample,
  type ReportSample,
  type TrainPoint,
} from "../vae/report.ts";
import { EXIT_USAGE, numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { openDataFlags, prepare, prepareOptions } from "./prepare.ts";
import { Progress } from "./progress.ts";

export { EXIT_USAGE };

const USAGE =
  `usage: deno task train [--data SRC]... [--dev CACHE]... [--out DIR] [--steps N | --epochs N]
                       [--batch N] [--lr X] [--seed N] [--config FILE.json] [--resume]
                       [--no-report] [--eval-every N] [--checkpoint-every N] [--quiet]
                       [--dev-fraction 0.1] [--segment-seconds 15] [--cache-memory 2048]
                       [--vocoder FILE|griffin-lim] [--no-gpu]
  --data     a Common Voice language folder, a plain folder of audio (recursive), or a corpus
             list file (each prepared into OUT/cache/<source name>/{train,dev}), or a prepared
             cache folder (index.json, trained on whole); may be repeated: the training clips
             are concatenated and the held-out ones pooled; default: the bundled sample
             corpus audio/sample/en
  --dev      a prepared cache of held-out clips (added to the sources' dev splits)
  --dev-fraction, --segment-seconds   for plain folders and lists, as in deno task prepare
  --cache-memory  MB of training features held in memory (default 2048, about 57 h of speech):
             a larger training set streams through it a window of shards at a time; dev clips
             are held within a quarter of it (an even spread of them beyond that)
  --config   JSON {"model": {...}, "train": {...}} overlaid on the defaults (vae/config.ts)
  --resume   continue from OUT/checkpoint.safetensors exactly where it stopped (without
             --config, the checkpoint's own model config is used)
  --vocoder  the report's second voice beside Griffin-Lim, and sample.wav's (default
             models/vocoder.safetensors when it fits the features; griffin-lim: none)`;

/** Default `--cache-memory`, in MB. */
export const DEFAULT_CACHE_MEMORY_MB = 2048;

/** A parsed, validated train command line. */
export interface TrainArgs {
  /** The `--data` sources, opened (kind and cache name known). */
  data: CorpusSource[];
  /** Prepared caches of extra held-out clips. */
  dev: string[];
  /** Share of a plain folder's speakers held out. */
  devFraction: number;
  /** Longest segment of a plain folder's or a list's file, seconds. */
  segmentSeconds: number;
  /** Bytes of training features held in memory (`--cache-memory` MB). */
  cacheMemoryBytes: number;
  out: string;
  resume: boolean;
  /** The --config file, or null when none was given (then --resume uses the checkpoint's). */
  configFile: string | null;
  model: ModelConfig;
  train: TrainConfig;
  /**
   * The training settings this command line sets itself (a flag, or the --config file's train
   * section) and where each came from, e.g. `{ lr: "--lr" }`: on --resume they are applied
   * over the checkpoint's (and recorded), or refused.
   */
  given: Partial<Record<keyof TrainConfig, string>>;
  epochs: number | null;
  reportClips: number;
  /** Write report.html and sample.wav at the end (Griffin-Lim takes a few seconds). */
  report: boolean;
  /** `--vocoder`: a file, "griffin-lim", or undefined for the default choice. */
  vocoder?: string;
  quiet: boolean;
}

/** Parses and validates; throws ConfigError before any work starts. */
export async function parseTrainArgs(args: string[]): Promise<TrainArgs> {
  const values = parseFlags(args, {
    data: { type: "string", multiple: true, default: [] as string[] },
    dev: { type: "string", multiple: true, default: [] as string[] },
    "dev-fraction": { type: "string" },
    "segment-seconds": { type: "string" },
    "cache-memory": { type: "string" },
    out: { type: "string", default: "out/run" },
    steps: { type: "string" },
    epochs: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    config: { type: "string" },
    "eval-every": { type: "string" },
    "checkpoint-every": { type: "string" },
    "report-clips": { type: "string", default: "3" },
    "no-report": { type: "boolean", default: false },
    vocoder: { type: "string" },
    resume: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  });
  let model: ModelConfig = { ...DEFAULT_MODEL };
  let train: TrainConfig = { ...DEFAULT_TRAIN };
  const given: TrainArgs["given"] = {};
  if (values.config) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await Deno.readTextFile(values.config));
    } catch (e) {
      throw new ConfigError(`--config ${values.config}: ${(e as Error).message}`);
    }
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new ConfigError(
        `--config ${values.config}: must hold an object {"model": {…}, "train": {…}}, got ` +
          JSON.stringify(json),
      );
    }
    for (const k of Object.keys(json)) {
      if (k !== "model" && k !== "train") {
        throw new ConfigError(`--config ${values.config}: unknown section "${k}" (model, train)`);
      }
    }
    model = mergeConfig(
      model,
      (json.model === undefined ? {} : json.model) as Record<string, unknown>,
      `${values.config}: model`,
    );
    const section = (json.train === undefined ? {} : json.train) as Record<string, unknown>;
    train = mergeConfig(train, section, `${values.config}: train`);
    for (const k of Object.keys(section)) {
      given[k as keyof TrainConfig] = `--config ${values.config}`;
    }
  }
  const flags: [string, NumericTrainField][] = [
    ["steps", "steps"],
    ["batch", "batch"],
    ["lr", "lr"],
    ["seed", "seed"],
    ["eval-every", "evalEvery"],
    ["checkpoint-every", "checkpointEvery"],
  ];
  for (const [flag, field] of flags) {
    const v = numberFlag(flag, values[flag as keyof typeof values] as string | undefined);
    if (v === undefined) continue;
    train[field] = v;
    given[field] = `--${flag}`;
  }
  const epochs = numberFlag("epochs", values.epochs) ?? null;
  if (epochs !== null && values.steps !== undefined) {
    throw new UsageError("give --steps or --epochs, not both");
  }
  if (epochs !== null && !(epochs > 0)) throw new UsageError(`--epochs must be > 0, got ${epochs}`);
  // Every field is checked here, before any work: a bad one names the file (or flag) and field.
  const where = values.config ? `--config ${values.config}: ` : "";
  validateModelConfig(model, `${where}model`);
  validateTrainConfig(train, model, `${where}train`);
  const data = await openDataFlags(values.data.length ? values.data : ["audio/sample/en"]);
  for (const dir of values.dev) {
    if (!(await Deno.stat(nodePath.join(dir, "index.json")).catch(() => null))) {
      throw new UsageError(`--dev ${dir} is not a prepared feature cache (no index.json)`);
    }
  }
  // The prepare options of the sources, checked now (before any work) by prepareOptions.
  const split = prepareOptions({
    devFraction: numberFlag("dev-fraction", values["dev-fraction"], { min: 0 }),
    segmentSeconds: numberFlag("segment-seconds", values["segment-seconds"], { min: 0 }),
  });
  return {
    data,
    dev: values.dev,
    devFraction: split.devFraction,
    segmentSeconds: split.segmentSeconds,
    cacheMemoryBytes: (numberFlag("cache-memory", values["cache-memory"], { min: 0.01 }) ??
      DEFAULT_CACHE_MEMORY_MB) * 2 ** 20,
    out: values.out!,
    resume: values.resume!,
    configFile: values.config ?? null,
    model,
    train,
    given,
    epochs,
    reportClips: numberFlag("report-clips", values["report-clips"], { min: 0, integer: true })!,
    report: !values["no-report"],
    vocoder: values.vocoder,
    quiet: values.quiet!,
  };
}

/**
 * The training caches and dev clips of every source: a prepared cache is trained on whole; any
 * other source is prepared (or its caches reused) into OUT/cache/<source name>/{train,dev}. The
 * training caches stream in order (nothing of them is read here but their indexes and the few
 * clips the report and the replay need); the held-out clips are pooled with the `--dev` caches
 * and held in memory (within a quarter of `--cache-memory`: an even spread of them beyond it).
 */
async function loadData(
  args: TrainArgs,
  features: ModelConfig["features"],
  quiet: boolean,
): Promise<TrainData> {
  const trainCaches: TrainCache[] = [];
  const devCaches: TrainCache[] = [];
  for (const source of args.data) {
    if (source.kind === "cache") {
      trainCaches.push({ dir: source.path, index: await openCache(source.path, features) });
      continue;
    }
    const counts: string[] = [];
    for (const split of ["train", "dev"] as const) {
      const opts = prepareOptions({
        data: source.path,
        split,
        out: nodePath.join(args.out, "cache", source.name, split),
        features,
        devFraction: args.devFraction,
        segmentSeconds: args.segmentSeconds,
      });
      const { skipped } = await prepare(opts);
      if (skipped.length) {
        console.error(`prepare ${source.path} [${split}]: ${formatSkipSummary(skipped)}`);
      }
      const cache = { dir: opts.out, index: await openCache(opts.out, features), source };
      (split === "train" ? trainCaches : devCaches).push(cache);
      const frames = cache.index.shards.reduce((n, s) => n + s.frames, 0);
      const clips = cache.index.shards.reduce((n, s) => n + s.clips, 0);
      counts.push(
        `${split} ${clips} clips (${(frames * features.hop / features.sampleRate).toFixed(1)} s)`,
      );
    }
    if (!quiet) console.error(`data ${source.path}: ${counts.join(", ")}`);
  }
  for (const dir of args.dev) devCaches.push({ dir, index: await openCache(dir, features) });
  const train = trainingShards(trainCaches);
  if (train.clips === 0) {
    throw new ConfigError(`no training clips in ${args.data.map((s) => s.path).join(", ")}`);
  }
  const originals = new Map<MelClip, ReturnType<typeof audioFileOf>>();
  const dev = await loadDevClips(devCaches, args.cacheMemoryBytes / 4, originals, quiet);
  // A training shard that cannot be used is named once (here or by the shard reader) and
  // skipped.
  const named = new Set<string>();
  const onSkip = (problem: string, file: string) => {
    if (named.has(file)) return;
    named.add(file);
    console.error(`\ntrain: skipped ${problem}`);
  };
  // The report shows dev clips, else the first training clips.
  const shown = !args.report ? [] : dev.length ? dev.slice(0, args.reportClips) : await clipsAt(
    trainCaches,
    [...Array(Math.min(args.reportClips, train.clips)).keys()],
    onSkip,
    originals,
  );
  const { nMels, sampleRate, hop } = features;
  // The model carries real speech of its training set for `listen` to rehearse.
  const picked = await clipsAt(trainCaches, replayPicks(train.clips), onSkip);
  const replay = cutReplay(picked, nMels, sampleRate / hop);
  return { caches: trainCaches, train, dev, shown, replay, originals, onSkip };
}

/** A cache of the run, and the source it was prepared from (none for a prepared cache given). */
interface TrainCache {
  dir: string;
  index: CacheIndex;
  source?: CorpusSource;
}

/**
 * The clips at `positions` (ascending) of the caches taken as one list, reading only the
 * shards that hold them; where a cache's source is known, `originals` learns their audio.
 */
async function clipsAt(
  caches: readonly TrainCache[],
  positions: readonly number[],
  onSkip?: (problem: string, file: string) => void,
  originals?: TrainData["originals"],
): Promise<LoadedClip[]> {
  const out: LoadedClip[] = [];
  let first = 0, p = 0;
  for (const { dir, index, source } of caches) {
    const count = index.shards.reduce((n, s) => n + s.clips, 0);
    const mine: number[] = [];
    for (; p < positions.length && positions[p] < first + count; p++) {
      mine.push(positions[p] - first);
    }
    const clips = await loadClipsAt(dir, index, mine, onSkip);
    if (source && originals) {
      for (const clip of clips) originals.set(clip, audioFileOf(source, clip));
    }
    out.push(...clips);
    first += count;
  }
  return out;
}

/**
 * The dev caches' clips, all of them when their features fit in `maxBytes` (as f32), else an
 * even spread of them that does (said on stderr).
 */
async function loadDevClips(
  caches: readonly TrainCache[],
  maxBytes: number,
  originals: TrainData["originals"],
  quiet: boolean,
): Promise<LoadedClip[]> {
  if (caches.length === 0) return [];
  const nMels = caches[0].index.features.nMels;
  let clips = 0, frames = 0;
  for (const { index } of caches) {
    for (const s of index.shards) {
      clips += s.clips;
      frames += s.frames;
    }
  }
  const bytes = frames * nMels * 4;
  if (bytes <= maxBytes) {
    const out: LoadedClip[] = [];
    for (const { dir, index, source } of caches) {
      const loaded = await loadCache(dir, index.features);
      if (source) { for (const clip of loaded) originals.set(clip, audioFileOf(source, clip)); }
      out.push(...loaded);
    }
    return out;
  }
  const keep = Math.max(1, Math.floor(clips * maxBytes / bytes));
  if (!quiet) {
    console.error(
      `dev: ${keep} of ${clips} clips (an even spread: all of them would take ` +
        `${(bytes / 2 ** 20).toFixed(0)} MB, over a quarter of --cache-memory)`,
    );
  }
  const positions = Array.from({ length: keep }, (_, k) => Math.floor((k * clips) / keep));
  return await clipsAt(caches, positions, undefined, originals);
}

/**
 * Steps between reads of the training numbers (a log line and a point of the loss history):
 * the steps in between run without waiting for the GPU, and their losses are averaged on it.
 */
const LOG_EVERY = 10;

function formatStats(s: IntervalStats): string[] {
  return [
    `elbo ${s.elbo.toFixed(2)}`,
    `recon ${s.recon.toFixed(2)}`,
    `kl ${s.kl.toFixed(3)}`,
    `β ${s.beta.toFixed(2)}`,
  ];
}

/** Files this command writes atomically (their temp files are `NAME.PID.tmp`). */
const OUTPUT_FILES = ["checkpoint.safetensors", "report.html", "sample.wav"];

/** In-process hooks for tests. */
export interface TrainHooks {
  /** Installed as the trainer's {@link VaeTrainer.lossHook} (e.g. to poison some steps). */
  lossHook?: (loss: ag.Tensor, step: number) => ag.Tensor;
}

/**
 * The training caches (as a shard stream), the dev clips, the clips the report shows and the
 * replay the checkpoint carries, and where each prepared clip's audio is (not for prepared
 * caches).
 */
interface TrainData {
  caches: TrainCache[];
  train: TrainingShards;
  dev: MelClip[];
  /** Shown in the report with their reconstructions: dev clips, else the first training ones. */
  shown: MelClip[];
  replay: MelClip[];
  originals: Map<MelClip, ReturnType<typeof audioFileOf>>;
  /** Names an unusable training shard once and lets it be skipped. */
  onSkip: (problem: string, file: string) => void;
}

/** One training run in progress: what it trains, on what, and what it has logged. */
interface TrainRun {
  ckptPath: string;
  config: TrainConfig;
  data: TrainData;
  model: MelVae;
  sampler: ShardSampler;
  reader: ShardReader;
  trainer: VaeTrainer;
  /** `--cache-memory`, in bytes. */
  budgetBytes: number;
  /** Steps taken by this process, and the seconds they took (batches included). */
  steps: number;
  stepSeconds: number;
  history: TrainPoint[];
  evals: EvalPoint[];
  /** Settings changed on resume, oldest first (kept in the checkpoint's history). */
  changes: SettingChange[];
  lastEval: EvalStats | null;
}

/** Runs training; returns the final eval (if a dev split exists). */
export async function train(
  args: TrainArgs,
  hooks: TrainHooks = {},
): Promise<{ eval: EvalStats | null; trainer: VaeTrainer; data: DataStats }> {
  await Deno.mkdir(args.out, { recursive: true });
  await removeStaleTempFiles(args.out, (name) => OUTPUT_FILES.includes(name));
  const ckptPath = nodePath.join(args.out, "checkpoint.safetensors");
  const resumed = args.resume ? await loadCheckpoint(ckptPath) : null;
  const configs = runConfigs(args, resumed);
  const data = await loadData(args, configs.model.features, args.quiet);
  if (args.epochs !== null) {
    configs.train.steps = stepsForEpochs(args.epochs, data.train.frames, configs.train);
  }
  const run = startRun(ckptPath, configs, data, resumed, hooks, args.cacheMemoryBytes);
  if (configs.changes.length) {
    console.error(
      `resumed with ${
        configs.changes.map((c) => `${c.field} ${c.from} → ${c.to} (${c.by})`).join(", ")
      } from step ${run.trainer.step + 1}; recorded in the checkpoint's history`,
    );
  }
  try {
    const interrupted = await trainSteps(run, args.quiet);
    if (interrupted) {
      await saveRun(run);
      console.error(`\ninterrupted: saved ${ckptPath} at step ${run.trainer.step}`);
    }
  } finally {
    run.reader.close();
  }
  if (!args.quiet) console.error(dataSummary(run));
  if (args.report) await writeReport({ run, outDir: args.out, vocoder: args.vocoder });
  return { eval: run.lastEval, trainer: run.trainer, data: dataStats(run) };
}

/** The fields of a train config that hold numbers (what the numeric flags set). */
type NumericTrainField = {
  [K in keyof TrainConfig]-?: TrainConfig[K] extends number ? K : never;
}[keyof TrainConfig];

/** A training setting changed when a run was resumed, as kept in the checkpoint's history. */
export interface SettingChange {
  /** The step the new value applies from (the first step of the resumed run is step + 1). */
  step: number;
  field: keyof TrainConfig;
  /** The old and new values (numbers, or a name such as lrSchedule's). */
  from: TrainConfig[keyof TrainConfig];
  to: TrainConfig[keyof TrainConfig];
  /** What set it: a flag (`--lr`) or `--config FILE`. */
  by: string;
}

/**
 * Training settings a resumed run may not change: the seed names the random streams that
 * `--resume` continues from the checkpoint.
 */
const FIXED_ON_RESUME: ReadonlySet<keyof TrainConfig> = new Set(["seed"]);

/**
 * The model and train configs of the run, and the settings changed on resume. On resume,
 * without --config the checkpoint's own architecture is used (with one, it must match); its
 * training settings are kept except those the command line sets (`given`: --lr, --batch, …, or
 * the --config train section), which apply from the next step and are listed as changes; the
 * seed cannot change (refused, naming the flag). `steps` is the new budget, not a change.
 */
function runConfigs(
  args: TrainArgs,
  resumed: LoadedCheckpoint | null,
): { model: ModelConfig; train: TrainConfig; changes: SettingChange[] } {
  if (!resumed) return { model: args.model, train: { ...args.train }, changes: [] };
  if (!resumed.state) {
    throw new ConfigError(`${resumed.path} holds no training state; cannot resume from it`);
  }
  let model = args.model;
  if (args.configFile === null) model = resumed.model; // validated by loadCheckpoint
  else checkModelConfig(resumed, args.model);
  const saved = resumed.train ?? args.train;
  const train: TrainConfig = { ...saved, steps: args.train.steps };
  const changes: SettingChange[] = [];
  for (const [field, by] of Object.entries(args.given) as [keyof TrainConfig, string][]) {
    if (field === "steps" || args.train[field] === saved[field]) continue;
    if (FIXED_ON_RESUME.has(field)) {
      throw new ConfigError(
        `--resume: ${by} sets ${field} ${args.train[field]}, but ${resumed.path} was trained ` +
          `with ${field} ${saved[field]} and a resumed run continues its random streams; ` +
          `leave ${by.startsWith("--config") ? `${field} out of the file` : by} out, or start ` +
          "a new run in another --out folder",
      );
    }
    (train as unknown as Record<string, unknown>)[field] = args.train[field];
    changes.push({ step: resumed.state.step, field, from: saved[field], to: train[field], by });
  }
  validateTrainConfig(train, model, `--resume of ${resumed.path}: train`);
  return { model, train, changes };
}

/** Steps that draw `epochs` times as many crop frames as the training clips hold (at least 1). */
function stepsForEpochs(epochs: number, frames: number, config: TrainConfig): number {
  return Math.max(1, Math.ceil((epochs * frames) / (config.batch * config.cropFrames)));
}

/** How the training data flowed: what the shard stream held and how long steps waited for it. */
export interface DataStats {
  /** Whether the whole training set stayed in memory (no streaming). */
  resident: boolean;
  /** Bytes of shards in the training set, and the most held at once. */
  cacheBytes: number;
  peakBytes: number;
  budgetBytes: number;
  /** Seconds spent waiting for the first shards, and for shards later (steps that waited). */
  startSeconds: number;
  waitSeconds: number;
  /** Seconds spent drawing batches in all (waits and cutting crops). */
  batchSeconds: number;
  /** Shards taken into the window, and shards skipped as unusable. */
  shardsRead: number;
  shardsSkipped: number;
  /** Steps this process took, their seconds (batches included) and mel frames a second. */
  steps: number;
  stepSeconds: number;
  framesPerSecond: number;
}

function dataStats(run: TrainRun): DataStats {
  const { sampler, reader } = run;
  return {
    resident: sampler.resident,
    cacheBytes: sampler.totalBytes,
    peakBytes: sampler.peakBytes,
    budgetBytes: run.budgetBytes,
    startSeconds: sampler.startMs / 1000,
    waitSeconds: sampler.waitMs / 1000,
    batchSeconds: sampler.nextMs / 1000,
    shardsRead: sampler.shardsEntered,
    shardsSkipped: reader.skipped,
    steps: run.steps,
    stepSeconds: run.stepSeconds,
    framesPerSecond: (run.steps * sampler.batch * sampler.cropFrames) / run.stepSeconds,
  };
}

/** One line on how the training data flowed (see {@link DataStats}). */
function dataSummary(run: TrainRun): string {
  const d = dataStats(run);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  return `data: ${d.resident ? "resident" : "streamed"} ${mb(d.cacheBytes)} of shards, at most ` +
    `${mb(d.peakBytes)} held (--cache-memory ${mb(d.budgetBytes)}); ${d.shardsRead} shards read, ` +
    `${d.shardsSkipped} skipped; waited ${d.startSeconds.toFixed(2)} s for the first and ` +
    `${d.waitSeconds.toFixed(2)} s later; batches took ${d.batchSeconds.toFixed(2)} s of the ` +
    `${d.steps} steps' ${d.stepSeconds.toFixed(1)} s (${d.framesPerSecond.toFixed(0)} frames/s)`;
}

/**
 * Model, crop sampler and trainer of the run: restored exactly from the checkpoint on resume
 * (weights, optimizer moments, step, RNG states, history), else fresh with the training data's
 * normalisation statistics.
 */
function startRun(
  ckptPath: string,
  configs: { model: ModelConfig; train: TrainConfig; changes: SettingChange[] },
  data: TrainData,
  resumed: LoadedCheckpoint | null,
  hooks: TrainHooks,
  budgetBytes: number,
): TrainRun {
  const { model: modelConfig, train: config } = configs;
  const model = new MelVae(modelConfig, config.seed);
  const { nMels } = modelConfig.features;
  const { cropFrames, batch, seed } = config;
  const reader = new ShardReader(data.train.files, data.onSkip);
  let sampler: ShardSampler;
  try {
    sampler = new ShardSampler(data.train.shards, reader, {
      nMels,
      cropFrames,
      batch,
      seed,
      budgetBytes,
    });
  } catch (e) {
    reader.close();
    if (e instanceof CacheBudgetError) throw new UsageError(e.message);
    throw e;
  }
  const trainer = new VaeTrainer(model, config, sampler);
  const lossHook = hooks.lossHook;
  if (lossHook) trainer.lossHook = (loss) => lossHook(loss, trainer.step);
  const run: TrainRun = {
    ckptPath,
    config,
    data,
    model,
    sampler,
    reader,
    budgetBytes,
    steps: 0,
    stepSeconds: 0,
    trainer,
    history: [],
    evals: [],
    changes: [],
    lastEval: null,
  };
  if (!resumed) {
    // Exact per-band statistics of every training feature, summed by prepare (no clip is read).
    const { mean, std } = data.train.stats.meanStd();
    model.setNormalization(mean, std);
    return run;
  }
  loadModelWeights(model, resumed);
  loadOptimizerState(trainer.optimizer, resumed);
  // The optimizer's own settings follow the run's config (changed on resume or not).
  trainer.optimizer.lr = config.lr;
  trainer.optimizer.weightDecay = config.weightDecay;
  const st = resumed.state!;
  trainer.step = st.step;
  trainer.skippedSteps = st.skippedSteps;
  trainer.gpuRng.setState(st.gpuRng);
  const loader = st.loader ?? { cursor: 0, drawn: 0, windowBytes: sampler.state.windowBytes };
  sampler.state = { rng: st.cropRng, ...loader };
  if (loader.windowBytes !== sampler.state.windowBytes) {
    console.error(
      `resume: the checkpoint's shard window (${loader.windowBytes} bytes) does not fit this ` +
        `--cache-memory; the stream goes on from the same place with another window`,
    );
  }
  const history = st.history as {
    train: TrainPoint[];
    evals: EvalPoint[];
    changes?: SettingChange[];
  };
  run.history = history.train;
  run.evals = history.evals;
  run.changes = [...(history.changes ?? []), ...configs.changes];
  console.error(`resumed ${ckptPath} at step ${st.step}`);
  return run;
}

/** Saves the run's checkpoint: weights, optimizer, step, RNG states and history. */
async function saveRun(run: TrainRun): Promise<void> {
  const { trainer, sampler } = run;
  const { rng, ...loader } = sampler.state;
  await saveCheckpoint(run.ckptPath, run.model, {
    replay: run.data.replay,
    train: run.config,
    optimizer: trainer.optimizer,
    state: {
      step: trainer.step,
      gpuRng: trainer.gpuRng.state(),
      cropRng: rng,
      loader,
      skippedSteps: trainer.skippedSteps,
      history: { train: run.history, evals: run.evals, changes: run.changes },
    },
  });
}

/**
 * Steps until the budget is spent or Ctrl-C, with the progress line, dev evals every
 * `evalEvery` steps and at the end, and checkpoints every `checkpointEvery` steps and at the
 * end. Returns whether it was interrupted (the caller saves then).
 */
async function trainSteps(run: TrainRun, quiet: boolean): Promise<boolean> {
  const { trainer, config } = run;
  let interrupted = false;
  const onSignal = () => interrupted = true;
  Deno.addSignalListener("SIGINT", onSignal);
  const progress = new Progress("train", config.steps);
  const start = performance.now();
  const startStep = trainer.step;
  /** Reads the numbers of the steps since the last read: a log line and a history point. */
  const readInterval = async () => {
    const s = await trainer.readStats();
    if (s.skipped) {
      console.error(
        `\nsteps ${
          s.step - s.steps + 1
        }–${s.step}: ${s.skipped} skipped (non-finite loss or gradient)`,
      );
    }
    const fps = ((trainer.step - startStep) * config.batch * config.cropFrames) /
      ((performance.now() - start) / 1000);
    if (s.steps > s.skipped) {
      run.history.push({
        step: s.step,
        elbo: s.elbo,
        recon: s.recon,
        kl: s.kl,
        framesPerSecond: fps,
      });
    }
    if (!quiet) progress.update(trainer.step, [...formatStats(s), `${fps.toFixed(0)} frames/s`]);
  };
  try {
    while (trainer.step < config.steps && !interrupted) {
      const t0 = performance.now();
      await trainer.recordStep();
      run.steps++;
      const evalDue = run.data.dev.length > 0 &&
        (trainer.step % config.evalEvery === 0 || trainer.step === config.steps);
      const saveDue = trainer.step % config.checkpointEvery === 0 ||
        trainer.step === config.steps;
      // With AUDIO_GEN_AUTOTUNE, the first step has met every shape: time the tile candidates
      // (outside the steps' own time).
      if (trainer.step === startStep + 1) {
        const t1 = performance.now();
        const tuned = await ag.tunePending();
        if (Object.keys(tuned).length && !quiet) {
          console.error(`autotuned: ${JSON.stringify(tuned)}`);
        }
        run.stepSeconds -= (performance.now() - t1) / 1000;
      }
      // The numbers are read (one wait for the GPU) only when a line, an eval or a save is due;
      // a read first, so a run stopped by non-finite steps is never saved past its stop.
      if (trainer.step % LOG_EVERY === 0 || evalDue || saveDue) await readInterval();
      run.stepSeconds += (performance.now() - t0) / 1000;
      if (evalDue) {
        run.lastEval = await trainer.evaluate(run.data.dev);
        run.evals.push({ step: trainer.step, ...evalNumbers(run.lastEval) });
      }
      if (saveDue) await saveRun(run);
    }
  } catch (e) {
    if (e instanceof NonFiniteError) console.error(`\n${e.message}`);
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  // Interrupted: the steps since the last read, so the save has their counts and history.
  if (interrupted) await readInterval();
  else if (!quiet) progress.done(trainer.step);
  return interrupted;
}

function evalNumbers(e: EvalStats): Record<keyof typeof EVAL_METRIC_DEFINITIONS, number> {
  return {
    elbo: e.elbo,
    recon: e.recon,
    kl: e.kl,
    activeDims: e.activeDims,
    melLsd: e.melLsd,
    mcd: e.mcd,
  };
}

/** What the report shows: a finished (or interrupted) run, where it goes, how many examples. */
interface ReportRequest {
  run: TrainRun;
  outDir: string;
  /** `--vocoder` (see {@link chooseAudioOut}). */
  vocoder?: string;
}

/** Dev clips whose audio is scored through the waveform in the report (each takes seconds). */
const REPORT_WAVEFORM_CLIPS = 20;

/**
 * The dev clips' reconstructions measured through the waveform (vae/waveform_eval.ts), for the
 * report: up to {@link REPORT_WAVEFORM_CLIPS} clips spread over the dev set, when their audio is
 * at hand (null for a bare cache).
 */
async function devThroughWaveform(
  run: TrainRun,
  vocoder: MelVocoder,
): Promise<WaveformSummary | null> {
  const { data, model } = run;
  const withAudio = data.dev.filter((c) => data.originals.has(c));
  if (withAudio.length === 0) return null;
  const step = Math.max(1, withAudio.length / REPORT_WAVEFORM_CLIPS);
  const picked: MelClip[] = [];
  for (let i = 0; i < withAudio.length && picked.length < REPORT_WAVEFORM_CLIPS; i += step) {
    picked.push(withAudio[Math.floor(i)]);
  }
  const { sampleRate } = model.config.features;
  const clips = [];
  for (const c of picked) {
    const samples = await loadClipAudio(data.originals.get(c)!, sampleRate).catch(() => null);
    if (samples && samples.length > 0) clips.push({ name: c.name, samples });
  }
  if (clips.length === 0) return null;
  return summarize(await scoreClips(model, clips, model.config.features, vocoder));
}

/** Writes report.html (curves, reconstructions, prior samples, eval) and sample.wav. */
async function writeReport({ run, outDir, vocoder }: ReportRequest): Promise<void> {
  const { model, data, lastEval } = run;
  const features = model.config.features;
  const { nMels, sampleRate } = features;
  const griffinLim: AudioOut = { kind: "griffin-lim", iterations: 32 };
  // The neural vocoder beside Griffin-Lim, when one fits these features.
  const chosen = await chooseAudioOut(vocoder, features, 32);
  const neural = chosen.kind === "vocoder" ? chosen : null;
  const voice = (out: AudioOut) => (logMelFrames: Float32Array, frames: number) =>
    ag.tidy(() =>
      logMelToAudio(ag.tensor(logMelFrames, [1, frames, nMels]), features, out, { seed: 1 })
        .toArray()
    );
  const toAudio = voice(griffinLim);
  const toVocoder = neural ? voice(neural) : null;
  const examples: ReportExample[] = [];
  for (const clip of data.shown) {
    const { input, output, frames } = await reconstructClip(model, clip);
    const original = data.originals.get(clip);
    const originalAudio = original
      ? await loadClipAudio(original, sampleRate).catch(() => undefined)
      : undefined;
    examples.push({
      name: clip.name,
      nMels,
      frames,
      inputMel: input,
      reconMel: output,
      originalAudio: originalAudio ?? await toAudio(input, frames),
      reconAudio: await toAudio(output, frames),
      vocoderAudio: await toVocoder?.(output, frames),
      sampleRate,
    });
  }
  const samples: ReportSample[] = [];
  const seconds = 4;
  for (let i = 0; i < 2; i++) {
    const mel = await ag.tidy(() => samplePrior(model, seconds, 1000 + i).toArray());
    const frames = mel.length / nMels;
    samples.push({
      name: `prior sample ${i + 1}`,
      nMels,
      frames,
      mel,
      audio: await toAudio(mel, frames),
      vocoderAudio: await toVocoder?.(mel, frames),
      sampleRate,
    });
  }
  await writeFileAtomic(
    nodePath.join(outDir, "sample.wav"),
    encodeWav(samples[0].vocoderAudio ?? samples[0].audio!, sampleRate),
  );
  const evalTable: Record<string, Record<string, number>> = {};
  if (lastEval) {
    evalTable[`dev (${lastEval.clips} clips, ${lastEval.frames} frames)`] = evalNumbers(lastEval);
  }
  const griffinLim64 = new GriffinLimVocoder(features, { iterations: 64, seed: 1 });
  const waveform = await devThroughWaveform(run, griffinLim64);
  const throughVocoder = neural && waveform
    ? await devThroughWaveform(run, new NeuralMelVocoder(neural.vocoder))
    : null;
  neural?.vocoder.dispose();
  for (
    const [summary, by] of [
      [waveform, "Griffin-Lim 64"],
      [throughVocoder, neural ? describeAudioOut(neural) : ""],
    ] as const
  ) {
    if (!summary) continue;
    evalTable[`dev through the waveform (${summary.clips} clips, ${by})`] = {
      melLsdFeatures: summary.featureMelLsd,
      melLsdWaveform: summary.melLsd,
      lsdWaveform: summary.lsd,
    };
  }
  const html = await renderReport({
    title: "audio-gen VAE training report",
    createdAt: new Date().toISOString(),
    checkpoint: run.ckptPath,
    step: run.trainer.step,
    config: { model: model.config, train: run.config },
    train: run.history,
    evals: run.evals,
    evalTable,
    examples,
    samples,
    notes: [
      "Reconstructions use z = μ. Audio is re-synthesised from mels with 32 iterations of fast Griffin-Lim" +
      (neural
        ? ` and, beside it, by the neural ${
          describeAudioOut(neural)
        } (sample.wav is the vocoder's).`
        : "."),
      "The training curves are per step on the batch's random crops (z sampled, β and free bits as configured); " +
      "the eval numbers are over whole dev clips with z = μ:",
      ...Object.values(EVAL_METRIC_DEFINITIONS),
      ...(waveform ? Object.values(WAVEFORM_METRIC_DEFINITIONS) : []),
      ...run.changes.map((c) =>
        `Resumed at step ${c.step} with ${c.field} ${c.from} → ${c.to} (${c.by}).`
      ),
    ],
  });
  await writeFileAtomic(nodePath.join(outDir, "report.html"), html);
}

if (import.meta.main) {
  await runCommand("train", USAGE, async (run) => {
    const args = await parseTrainArgs(Deno.args);
    run.writesTo(args.out);
    if (args.report) await checkVocoderFlag(args.vocoder); // before the work, not after it
    await initOrExit(Deno.args);
    const { eval: e, trainer } = await train(args);
    const latentDim = trainer.model.config.latentDim;
    const where = nodePath.join(args.out, "checkpoint.safetensors");
    console.log(`trained ${trainer.step} steps (${trainer.skippedSteps} skipped) → ${where}`);
    if (e) {
      console.log(
        `dev: elbo ${e.elbo.toFixed(2)} nats/frame, recon ${e.recon.toFixed(2)}, ` +
          `kl ${e.kl.toFixed(3)}, active dims ${e.activeDims}/${latentDim}, ` +
          `mel-LSD ${e.melLsd.toFixed(2)} dB, MCD ${e.mcd.toFixed(2)} dB`,
      );
    }
    if (args.report) {
      const report = nodePath.join(args.out, "report.html");
      console.log(`report: ${report}  sample: ${nodePath.join(args.out, "sample.wav")}`);
    }
  });
}
