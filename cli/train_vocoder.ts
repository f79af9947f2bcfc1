/**
 * `deno task train:vocoder`: trains the neural vocoder (vocoder/) on the real speech of
 * ../shared/data/speech, as vocoder/corpus_recipe.json divides it (held-out speakers and clips are
 * never trained on). Leaves in `--out` (default out/vocoder):
 *
 * - `checkpoint.safetensors`: generator, discriminators, both optimizers, the data position,
 *   random streams and history (`--resume` continues exactly; Ctrl-C or SIGTERM saves first);
 * - `vocoder.safetensors`: the generator alone (what `generate` and `listen` load);
 * - `report.html`: curves, held-out distances through the waveform beside Griffin-Lim's, and
 *   players (original, Griffin-Lim, vocoder);
 * - `baseline.json`: Griffin-Lim's distances on the held-out clips (computed once).
 *
 * Phases are resumes with other settings: reconstruction losses first, then
 * `--resume --adversarial-from STEP --steps N`, then `--resume --vae CKPT` to fine-tune on a
 * VAE's reconstructed mels (the target stays the real waveform).
 * @module
 */
import * as nodePath from "node:path";
import * as ag from "../engine/mod.ts";
import { LogMel } from "../audio/features.ts";
import { removeStaleTempFiles, writeFileAtomic } from "../io/atomic_file.ts";
import { ConfigError, mergeConfig } from "../vae/config.ts";
import { normalizationStats } from "../vae/data.ts";
import { loadModel } from "../vae/checkpoint.ts";
import {
  checkSameFeatures,
  DEFAULT_DISCRIMINATOR,
  DEFAULT_VOCODER,
  DEFAULT_VOCODER_TRAIN,
  type DiscriminatorConfig,
  validateDiscriminatorConfig,
  validateVocoderConfig,
  validateVocoderTrainConfig,
  type VocoderConfig,
  type VocoderTrainConfig,
} from "../vocoder/config.ts";
import { type AudioClip, loadClips, planCorpus, readRecipe } from "../vocoder/corpus.ts";
import { SegmentSampler } from "../vocoder/data.ts";
import { Discriminators } from "../vocoder/discriminators.ts";
import { Vocoder } from "../vocoder/model.ts";
import { readVocoderCheckpoint, saveVocoder } from "../vocoder/checkpoint.ts";
import { restoreTraining, type VocoderTrainingState } from "../vocoder/checkpoint_format.ts";
import {
  type ClipDistance,
  griffinLimClip,
  meanDistance,
  measureClips,
  type MelTransform,
  NonFiniteError,
  vocodeClip,
  type VocoderStepStats,
  VocoderTrainer,
} from "../vocoder/trainer.ts";
import {
  renderVocoderReport,
  type VocoderEvalPoint,
  type VocoderReportExample,
  type VocoderTrainPoint,
} from "../vocoder/report.ts";
import { vaeReconstruction } from "../vocoder/vae_mels.ts";
import { loadModuleTensors } from "../vae/tensor_state.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { formatDuration, Progress } from "./progress.ts";

const USAGE =
  `usage: deno task train:vocoder [--out DIR] [--steps N] [--batch N] [--segment-frames N]
                               [--lr X] [--seed N] [--adversarial-from STEP] [--vae CKPT]
                               [--config FILE.json] [--recipe FILE.json] [--resume]
                               [--eval-every N] [--checkpoint-every N] [--eval-clips N]
                               [--log-magnitude-norm l1|l2]
                               [--no-report] [--quiet] [--no-gpu]
  --config   JSON {"vocoder": {...}, "discriminator": {...}, "train": {...}} overlaid on the
             defaults of vocoder/config.ts (unknown keys are errors)
  --resume   continue from OUT/checkpoint.safetensors exactly; --steps, --lr,
             --adversarial-from, --vae, --eval-every, --checkpoint-every and
             --log-magnitude-norm may change
             (each change is printed and recorded in the history)
  --adversarial-from STEP   train with the discriminators from STEP on (0: never)
  --vae CKPT  feed the VAE's z = μ reconstruction of each segment's mel (fine-tuning);
             the target stays the real waveform
  --eval-clips N  measure on at most N clips of each held-out set (default all)`;

/** A parsed, validated command line. */
export interface VocoderArgs {
  out: string;
  resume: boolean;
  vocoder: VocoderConfig;
  discriminator: DiscriminatorConfig;
  train: VocoderTrainConfig;
  /** Training fields given on the command line (applied over a resumed run's). */
  overrides: Partial<VocoderTrainConfig>;
  configFile: string | null;
  vae: string | null;
  recipe: string | null;
  evalClips: number;
  report: boolean;
  quiet: boolean;
}

/** Parses and validates; throws ConfigError before any work starts. */
export async function parseVocoderArgs(args: string[]): Promise<VocoderArgs> {
  const v = parseFlags(args, {
    out: { type: "string", default: "out/vocoder" },
    steps: { type: "string" },
    batch: { type: "string" },
    "segment-frames": { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    "adversarial-from": { type: "string" },
    vae: { type: "string" },
    config: { type: "string" },
    recipe: { type: "string" },
    "eval-every": { type: "string" },
    "checkpoint-every": { type: "string" },
    "eval-clips": { type: "string" },
    "log-magnitude-norm": { type: "string" },
    resume: { type: "boolean", default: false },
    "no-report": { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  });
  let vocoder: VocoderConfig = { ...DEFAULT_VOCODER };
  let discriminator: DiscriminatorConfig = { ...DEFAULT_DISCRIMINATOR };
  let train: VocoderTrainConfig = { ...DEFAULT_VOCODER_TRAIN };
  if (v.config) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await Deno.readTextFile(v.config));
    } catch (e) {
      throw new ConfigError(`--config ${v.config}: ${(e as Error).message}`);
    }
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new ConfigError(`--config ${v.config}: not a JSON object`);
    }
    for (const k of Object.keys(json)) {
      if (!["vocoder", "discriminator", "train"].includes(k)) {
        throw new ConfigError(
          `--config ${v.config}: unknown section "${k}" (vocoder, discriminator, train)`,
        );
      }
    }
    const section = (k: string) => (json[k] ?? {}) as Record<string, unknown>;
    vocoder = mergeConfig(vocoder, section("vocoder"), `${v.config}: vocoder`);
    discriminator = mergeConfig(
      discriminator,
      section("discriminator"),
      `${v.config}: discriminator`,
    );
    train = mergeConfig(train, section("train"), `${v.config}: train`);
  }
  const overrides: Partial<VocoderTrainConfig> = {};
  const int = (flag: string, key: keyof VocoderTrainConfig, min = 1) => {
    const n = numberFlag(flag, v[flag as keyof typeof v] as string | undefined, {
      min,
      integer: true,
    });
    if (n !== undefined) (overrides as Record<string, number>)[key] = n;
  };
  int("steps", "steps");
  int("batch", "batch");
  int("segment-frames", "segmentFrames");
  int("seed", "seed", 0);
  int("adversarial-from", "adversarialFrom", 0);
  int("eval-every", "evalEvery");
  int("checkpoint-every", "checkpointEvery");
  const lr = numberFlag("lr", v.lr, { min: 0 });
  if (lr !== undefined) overrides.lr = lr;
  const normFlag = v["log-magnitude-norm"];
  if (normFlag !== undefined) {
    if (normFlag !== "l1" && normFlag !== "l2") {
      throw new UsageError(`--log-magnitude-norm must be l1 or l2, got '${normFlag}'`);
    }
    overrides.logMagnitudeNorm = normFlag;
  }
  train = { ...train, ...overrides };
  validateVocoderConfig(vocoder);
  validateDiscriminatorConfig(discriminator);
  validateVocoderTrainConfig(train);
  if (v.vae && !(await Deno.stat(v.vae).catch(() => null))?.isFile) {
    throw new UsageError(`--vae ${v.vae} is not a file`);
  }
  return {
    out: v.out!,
    resume: v.resume!,
    vocoder,
    discriminator,
    train,
    overrides,
    configFile: v.config ?? null,
    vae: v.vae ?? null,
    recipe: v.recipe ?? null,
    evalClips: numberFlag("eval-clips", v["eval-clips"], { min: 1, integer: true }) ?? Infinity,
    report: !v["no-report"],
    quiet: v.quiet!,
  };
}

/** Fields a resumed run may change; anything else must match the checkpoint's. */
const RESUMABLE_CHANGES: readonly (keyof VocoderTrainConfig)[] = [
  "steps",
  "lr",
  "adversarialFrom",
  "evalEvery",
  "checkpointEvery",
  "logMagnitudeNorm",
];

/** The history kept in checkpoints (train points averaged over TRAIN_POINT_STEPS steps). */
interface History {
  train: VocoderTrainPoint[];
  evals: VocoderEvalPoint[];
  notes: string[];
}

const TRAIN_POINT_STEPS = 10;

/** Files this command writes atomically (their temp files are `NAME.PID.tmp`). */
const OUTPUT_FILES = [
  "checkpoint.safetensors",
  "vocoder.safetensors",
  "report.html",
  "baseline.json",
];

/** In-process hooks for tests. */
export interface VocoderTrainHooks {
  lossHook?: (loss: ag.Tensor, step: number) => ag.Tensor;
  /** Replaces the corpus (tests train on a clip or two). */
  data?: { train: AudioClip[]; eval: Record<string, AudioClip[]> };
}

/** What a run ends with. */
export interface VocoderRunResult {
  trainer: VocoderTrainer;
  /** The last step's numbers (null when no step ran). */
  lastStep: VocoderStepStats | null;
  /** The last evaluation: per set, the vocoder's and Griffin-Lim's mean distances. */
  eval: Record<
    string,
    { vocoder: { melLsd: number; lsd: number }; griffinLim: { melLsd: number; lsd: number } }
  >;
}

function averagePoint(stats: VocoderStepStats[], fps: number): VocoderTrainPoint {
  const mean = (k: keyof VocoderStepStats) => {
    const xs = stats.map((s) => s[k] as number).filter(Number.isFinite);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  };
  const p: VocoderTrainPoint = {
    step: stats[stats.length - 1].step,
    loss: mean("loss"),
    mel: mean("mel"),
    spectralConvergence: mean("spectralConvergence"),
    logMagnitude: mean("logMagnitude"),
    framesPerSecond: fps,
  };
  if (stats.some((s) => s.adversarialPhase)) {
    p.discriminator = mean("discriminator");
    p.adversarial = mean("adversarial");
    p.featureMatching = mean("featureMatching");
  }
  return p;
}

function formatStats(s: VocoderStepStats): string[] {
  const parts = [
    `mel ${s.mel.toFixed(3)}`,
    `sc ${s.spectralConvergence.toFixed(3)}`,
    `mag ${s.logMagnitude.toFixed(3)}`,
  ];
  if (s.adversarialPhase) {
    parts.push(
      `D ${s.discriminator.toFixed(3)}`,
      `adv ${s.adversarial.toFixed(3)}`,
      `fm ${s.featureMatching.toFixed(3)}`,
    );
  }
  return parts;
}

async function loadData(
  args: VocoderArgs,
  sampleRate: number,
  quiet: boolean,
): Promise<{ train: AudioClip[]; eval: Record<string, AudioClip[]> }> {
  const recipe = await readRecipe(args.recipe ?? undefined);
  const plan = await planCorpus(recipe);
  const progress = quiet ? null : new Progress("decode", plan.train.length);
  const train = await loadClips(plan.root, plan.train, {
    sampleRate,
    normalize: true,
    onProgress: (n) => progress?.update(n),
  });
  progress?.done(plan.train.length);
  const seconds = train.clips.reduce((s, c) => s + c.samples.length, 0) / sampleRate;
  console.error(
    `corpus: ${train.clips.length} training clips (${(seconds / 60).toFixed(1)} min), ` +
      `${plan.heldOut.length} held out, ${plan.dropped.length} dropped (recipe)` +
      (train.skipped.length
        ? `; ${train.skipped.length} not decodable, skipped (e.g. ${train.skipped[0].name}: ` +
          `${train.skipped[0].reason})`
        : ""),
  );
  const evalSets: Record<string, AudioClip[]> = {};
  for (const [name, files] of Object.entries(plan.eval)) {
    const { clips, skipped } = await loadClips(plan.root, files.slice(0, args.evalClips), {
      sampleRate,
    });
    if (skipped.length) {
      console.error(`eval ${name}: ${skipped.length} clips not decodable, skipped`);
    }
    if (clips.length) evalSets[name] = clips;
  }
  return { train: train.clips, eval: evalSets };
}

/** Per-band mean and std of the training clips' true log-mels (the vocoder's input scaling). */
async function melStatistics(logMel: LogMel, clips: readonly AudioClip[]) {
  const mels = [];
  for (const c of clips) {
    const mel = await ag.tidy(() =>
      ag.noGrad(() => logMel.logMelFrames(ag.tensor(c.samples, [1, c.samples.length]))).toArray()
    );
    mels.push({ name: c.name, frames: mel.length / logMel.config.nMels, mel });
  }
  return normalizationStats(mels, logMel.config.nMels);
}

/** Runs training; returns the trainer and the last evaluation. */
export async function trainVocoder(
  args: VocoderArgs,
  hooks: VocoderTrainHooks = {},
): Promise<VocoderRunResult> {
  await Deno.mkdir(args.out, { recursive: true });
  await removeStaleTempFiles(args.out, (name) => OUTPUT_FILES.includes(name));
  const ckptPath = nodePath.join(args.out, "checkpoint.safetensors");
  const weightsPath = nodePath.join(args.out, "vocoder.safetensors");
  const resumed = args.resume ? await readVocoderCheckpoint(ckptPath) : null;
  let vocoderConfig = args.vocoder, discriminatorConfig = args.discriminator;
  let trainConfig = args.train;
  const history: History = { train: [], evals: [], notes: [] };
  if (resumed) {
    if (!resumed.state || !resumed.train || !resumed.discriminatorConfig) {
      throw new ConfigError(`${ckptPath} holds no training state; cannot resume from it`);
    }
    if (args.configFile) {
      const a = JSON.stringify(resumed.config), b = JSON.stringify(args.vocoder);
      if (a !== b) {
        throw new ConfigError(
          `${ckptPath} was saved with another vocoder config.\n  checkpoint: ${a}\n  --config:   ${b}`,
        );
      }
    }
    vocoderConfig = resumed.config;
    discriminatorConfig = resumed.discriminatorConfig;
    const refused = Object.keys(args.overrides).filter((k) =>
      !RESUMABLE_CHANGES.includes(k as keyof VocoderTrainConfig) &&
      JSON.stringify(args.overrides[k as keyof VocoderTrainConfig]) !==
        JSON.stringify(resumed.train![k as keyof VocoderTrainConfig])
    );
    if (refused.length) {
      throw new UsageError(
        `--resume cannot change ${refused.join(", ")} (only ${RESUMABLE_CHANGES.join(", ")})`,
      );
    }
    trainConfig = { ...resumed.train, ...args.overrides };
    const saved = resumed.state.history as History;
    history.train = saved.train ?? [];
    history.evals = saved.evals ?? [];
    history.notes = saved.notes ?? [];
    for (const k of RESUMABLE_CHANGES) {
      if (JSON.stringify(trainConfig[k]) !== JSON.stringify(resumed.train[k])) {
        const note = `step ${resumed.state.step}: ${k} ${JSON.stringify(resumed.train[k])} → ` +
          JSON.stringify(trainConfig[k]);
        history.notes.push(note);
        console.error(`resume: ${note}`);
      }
    }
  }
  const features = vocoderConfig.features;
  const logMel = new LogMel(features);
  let melTransform: MelTransform | null = null;
  let transformName = "true mels";
  if (args.vae) {
    const { model } = await loadModel(args.vae);
    checkSameFeatures(features, model.config.features, "the vocoder", `the VAE ${args.vae}`);
    melTransform = vaeReconstruction(model);
    transformName = `VAE ${nodePath.basename(args.vae)} (z = μ)`;
    history.notes.push(`from step ${resumed?.state?.step ?? 0}: input = ${transformName}`);
  }
  const data = hooks.data ?? await loadData(args, features.sampleRate, args.quiet);
  const vocoder = new Vocoder(vocoderConfig, trainConfig.seed);
  const discriminators = new Discriminators(discriminatorConfig, trainConfig.seed + 100);
  const trainer = new VocoderTrainer(vocoder, discriminators, trainConfig, logMel);
  trainer.melTransform = melTransform;
  const lossHook = hooks.lossHook;
  if (lossHook) trainer.lossHook = (loss) => lossHook(loss, trainer.step);
  const sampler = new SegmentSampler(
    data.train.map((c) => c.samples),
    features.nFft,
    trainConfig.segmentFrames * features.hop,
    trainConfig.batch,
    trainConfig.gainDb,
    trainConfig.seed,
  );
  if (resumed) {
    loadModuleTensors(vocoder, resumed.tensors, "generator", ckptPath);
    restoreTraining(resumed, {
      discriminators,
      generatorOptimizer: trainer.generatorOptimizer,
      discriminatorOptimizer: trainer.discriminatorOptimizer,
    });
    // The learning rates are the run's (a resumed --lr applies from here).
    trainer.generatorOptimizer.lr = trainConfig.lr;
    trainer.discriminatorOptimizer.lr = trainConfig.discriminatorLr;
    const st = resumed.state!;
    trainer.step = st.step;
    trainer.skippedSteps = st.skippedSteps;
    trainer.gpuRng.setState(st.gpuRng);
    sampler.state = st.sampler;
    console.error(`resumed ${ckptPath} at step ${st.step}`);
  } else {
    const { mean, std } = await melStatistics(logMel, data.train);
    vocoder.setNormalization(mean, std);
  }
  if (!args.quiet) {
    console.error(
      `vocoder: ${vocoder.parameterCount()} parameters (C ${vocoderConfig.channels}, ` +
        `${vocoderConfig.layers} blocks); discriminators ${
          discriminators.parameters().reduce((s, p) => s + p.size, 0)
        }; ${(sampler.seconds / features.sampleRate / 60).toFixed(1)} min of training audio; ` +
        `input: ${transformName}`,
    );
  }
  const corpusSeconds = Math.round(sampler.seconds / features.sampleRate);
  const savedSeconds = resumed?.state?.corpusSeconds;
  if (resumed && savedSeconds !== undefined && savedSeconds !== corpusSeconds) {
    history.notes.push(
      `step ${trainer.step}: training audio ${savedSeconds} s → ${corpusSeconds} s ` +
        "(new clips decodable; the segment stream differs from here)",
    );
  }
  const state = (): VocoderTrainingState => ({
    step: trainer.step,
    corpusSeconds,
    sampler: sampler.state,
    gpuRng: trainer.gpuRng.state(),
    skippedSteps: trainer.skippedSteps,
    history,
  });
  const save = async () => {
    await saveVocoder(ckptPath, vocoder, {
      discriminators,
      discriminatorConfig,
      train: trainConfig,
      generatorOptimizer: trainer.generatorOptimizer,
      discriminatorOptimizer: trainer.discriminatorOptimizer,
      state: state(),
    });
    await saveVocoder(weightsPath, vocoder);
  };
  const baseline = await loadBaseline(args.out);
  const evaluate = async (): Promise<VocoderRunResult["eval"]> => {
    const result: VocoderRunResult["eval"] = {};
    const point: VocoderEvalPoint = { step: trainer.step };
    for (const [set, clips] of Object.entries(data.eval)) {
      const voc = await measureClips(clips, (s) => vocodeClip(vocoder, logMel, s, melTransform));
      const gl = await baselineFor(baseline, transformName, clips, logMel, melTransform);
      const v = meanDistance(voc), g = meanDistance(gl);
      result[set] = { vocoder: v, griffinLim: g };
      Object.assign(point, {
        [`${set}/vocoder/melLsd`]: v.melLsd,
        [`${set}/vocoder/lsd`]: v.lsd,
        [`${set}/griffin-lim/melLsd`]: g.melLsd,
        [`${set}/griffin-lim/lsd`]: g.lsd,
      });
    }
    await saveBaseline(args.out, baseline);
    history.evals.push(point);
    if (!args.quiet) {
      const line = Object.entries(result).map(([set, r]) =>
        `${set}: vocoder ${r.vocoder.melLsd.toFixed(2)}/${r.vocoder.lsd.toFixed(2)} ` +
        `GL ${r.griffinLim.melLsd.toFixed(2)}/${r.griffinLim.lsd.toFixed(2)}`
      ).join("  ");
      console.error(`\neval @${trainer.step} (mel-LSD/LSD dB, ${transformName}): ${line}`);
    }
    return result;
  };
  let interrupted = false;
  const onSignal = () => interrupted = true;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  const start = performance.now();
  const startStep = trainer.step;
  // Counts this session's steps (its rate and ETA); the step itself is shown beside.
  const progress = new Progress("train:vocoder", trainConfig.steps - startStep);
  const framesPerStep = trainConfig.batch * trainConfig.segmentFrames;
  let pending: VocoderStepStats[] = [];
  let lastEval: VocoderRunResult["eval"] = {};
  let lastStep: VocoderStepStats | null = null;
  try {
    while (trainer.step < trainConfig.steps && !interrupted) {
      const s = lastStep = await trainer.trainStep(sampler.next());
      if (s.skipped) console.error(`\nstep ${s.step}: non-finite loss or gradient, step skipped`);
      const seconds = (performance.now() - start) / 1000;
      const fps = ((trainer.step - startStep) * framesPerStep) / seconds;
      pending.push(s);
      if (pending.length === TRAIN_POINT_STEPS) {
        history.train.push(averagePoint(pending, fps));
        pending = [];
      }
      if (!args.quiet) {
        progress.update(trainer.step - startStep, [
          `step ${trainer.step}`,
          ...formatStats(s),
          `${fps.toFixed(0)} frames/s`,
        ]);
      }
      const last = trainer.step === trainConfig.steps;
      if (trainer.step % trainConfig.evalEvery === 0 || last) {
        lastEval = await evaluate();
        if (args.report) {
          await writeReport(
            args,
            vocoder,
            logMel,
            data,
            melTransform,
            history,
            trainConfig,
            discriminatorConfig,
            trainer.step,
            lastEval,
          );
        }
      }
      if (trainer.step % trainConfig.checkpointEvery === 0 || last) await save();
    }
  } catch (e) {
    if (e instanceof NonFiniteError) console.error(`\n${e.message}`);
    throw e;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
  if (interrupted) {
    await save();
    console.error(`\ninterrupted: saved ${ckptPath} at step ${trainer.step}`);
  } else if (!args.quiet) {
    progress.done(trainer.step - startStep, [
      `${formatDuration((performance.now() - start) / 1000)} for ${trainer.step - startStep} steps`,
    ]);
  }
  return { trainer, lastStep, eval: lastEval };
}

/** Griffin-Lim's distances by input kind and clip name, kept in OUT/baseline.json. */
type Baseline = Record<string, Record<string, ClipDistance>>;

async function loadBaseline(out: string): Promise<Baseline> {
  try {
    return JSON.parse(await Deno.readTextFile(nodePath.join(out, "baseline.json")));
  } catch {
    return {};
  }
}

async function saveBaseline(out: string, b: Baseline): Promise<void> {
  await writeFileAtomic(nodePath.join(out, "baseline.json"), JSON.stringify(b, null, 1));
}

async function baselineFor(
  baseline: Baseline,
  kind: string,
  clips: readonly AudioClip[],
  logMel: LogMel,
  melTransform: MelTransform | null,
): Promise<ClipDistance[]> {
  const known = baseline[kind] ??= {};
  const missing = clips.filter((c) => !known[c.name]);
  const measured = await measureClips(missing, (s) => griffinLimClip(logMel, s, melTransform));
  for (const d of measured) known[d.name] = d;
  return clips.map((c) => known[c.name]);
}

async function writeReport(
  args: VocoderArgs,
  vocoder: Vocoder,
  logMel: LogMel,
  data: { eval: Record<string, AudioClip[]> },
  melTransform: MelTransform | null,
  history: History,
  train: VocoderTrainConfig,
  discriminator: DiscriminatorConfig,
  step: number,
  last: VocoderRunResult["eval"],
): Promise<void> {
  const examples: VocoderReportExample[] = [];
  const firstOfEach = Object.entries(data.eval).map(([set, clips]) => [set, clips[0]] as const);
  for (const [set, clip] of firstOfEach.slice(0, 3)) {
    const mel = await ag.tidy(() =>
      ag.noGrad(() => {
        const m = logMel.forward(ag.tensor(clip.samples, [1, clip.samples.length]));
        return (melTransform ? melTransform(m) : m).transpose(1, 2);
      }).toArray()
    );
    examples.push({
      name: `${set}: ${clip.name}`,
      sampleRate: logMel.config.sampleRate,
      nMels: logMel.config.nMels,
      frames: mel.length / logMel.config.nMels,
      mel,
      original: clip.samples,
      griffinLim: await griffinLimClip(logMel, clip.samples, melTransform),
      vocoder: await vocodeClip(vocoder, logMel, clip.samples, melTransform),
    });
  }
  const table: Record<string, Record<string, number>> = {};
  for (const [set, r] of Object.entries(last)) {
    const n = data.eval[set]?.length ?? 0;
    table[`${set} (${n} clips): Griffin-Lim 64`] = {
      "mel-LSD": r.griffinLim.melLsd,
      LSD: r.griffinLim.lsd,
    };
    table[`${set} (${n} clips): vocoder`] = {
      "mel-LSD": r.vocoder.melLsd,
      LSD: r.vocoder.lsd,
      "mel-LSD vs GL (%)": 100 * (r.vocoder.melLsd / r.griffinLim.melLsd - 1),
      "LSD vs GL (%)": 100 * (r.vocoder.lsd / r.griffinLim.lsd - 1),
    };
  }
  const html = await renderVocoderReport({
    title: "audio-gen neural vocoder: training report",
    createdAt: new Date().toISOString(),
    checkpoint: nodePath.join(args.out, "checkpoint.safetensors"),
    step,
    config: { vocoder: vocoder.config, discriminator, train },
    train: history.train,
    evals: history.evals,
    table,
    examples,
    notes: [
      "Distances are mel-LSD and LSD in dB through the waveform (audio/waveform_distance.ts: float64 " +
      "re-analysis, floor 1e-8 × the clip's peak power, aligned by the best lag), on held-out clips.",
      "Griffin-Lim: the mel filterbank's pseudo-inverse, then 64 iterations of fast Griffin-Lim (seed 1).",
      `Training losses are means over ${TRAIN_POINT_STEPS} steps; mel and log-magnitude L1 are in natural log of power.`,
      ...history.notes,
    ],
  });
  await writeFileAtomic(nodePath.join(args.out, "report.html"), html);
}

if (import.meta.main) {
  await runCommand("train:vocoder", USAGE, async (run) => {
    const args = await parseVocoderArgs(Deno.args);
    run.writesTo(args.out);
    await initOrExit(Deno.args);
    const { trainer, eval: e } = await trainVocoder(args);
    console.log(
      `trained ${trainer.step} steps (${trainer.skippedSteps} skipped) → ` +
        `${nodePath.join(args.out, "vocoder.safetensors")}`,
    );
    for (const [set, r] of Object.entries(e)) {
      console.log(
        `${set}: vocoder mel-LSD ${r.vocoder.melLsd.toFixed(2)} dB, LSD ${
          r.vocoder.lsd.toFixed(2)
        } dB; ` +
          `Griffin-Lim ${r.griffinLim.melLsd.toFixed(2)} / ${r.griffinLim.lsd.toFixed(2)} dB`,
      );
    }
    if (args.report) console.log(`report: ${nodePath.join(args.out, "report.html")}`);
  });
}
