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
import { loadCache, readCacheIndex } from "../audio/feature_cache.ts";
import { loadAudio } from "../audio/decode.ts";
import { melToAudio } from "../audio/vocoder.ts";
import { encodeWav } from "../audio/wav.ts";
import { removeStaleTempFiles, writeFileAtomic } from "../audio/atomic_file.ts";
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
  loadModelWeights,
  loadOptimizerState,
  saveCheckpoint,
} from "../vae/checkpoint.ts";
import { CropSampler, type MelClip, normalizationStats } from "../vae/data.ts";
import { MelVae } from "../vae/model.ts";
import { samplePrior } from "../vae/sampling.ts";
import {
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
import { parsePrepareArgs, prepare } from "./prepare.ts";
import { Progress } from "./progress.ts";

export { EXIT_USAGE };

const USAGE = `usage: deno task train [--data DIR] [--out DIR] [--steps N | --epochs N] [--batch N]
                       [--lr X] [--seed N] [--config FILE.json] [--resume] [--no-report]
                       [--eval-every N] [--checkpoint-every N] [--quiet] [--no-gpu]
  --data     a Common Voice language folder (prepared into OUT/cache), or a prepared cache
             folder (index.json); default: the bundled sample corpus audio/sample/en
  --config   JSON {"model": {...}, "train": {...}} overlaid on the defaults (vae/config.ts)
  --resume   continue from OUT/checkpoint.safetensors exactly where it stopped (without
             --config, the checkpoint's own model config is used)`;

/** A parsed, validated train command line. */
export interface TrainArgs {
  data: string;
  dev: string | null;
  out: string;
  resume: boolean;
  /** The --config file, or null when none was given (then --resume uses the checkpoint's). */
  configFile: string | null;
  model: ModelConfig;
  train: TrainConfig;
  epochs: number | null;
  reportClips: number;
  /** Write report.html and sample.wav at the end (Griffin-Lim takes a few seconds). */
  report: boolean;
  quiet: boolean;
}

/** Parses and validates; throws ConfigError before any work starts. */
export async function parseTrainArgs(args: string[]): Promise<TrainArgs> {
  const values = parseFlags(args, {
    data: { type: "string", default: "audio/sample/en" },
    dev: { type: "string" },
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
    resume: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  });
  let model: ModelConfig = { ...DEFAULT_MODEL };
  let train: TrainConfig = { ...DEFAULT_TRAIN };
  if (values.config) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await Deno.readTextFile(values.config));
    } catch (e) {
      throw new ConfigError(`--config ${values.config}: ${(e as Error).message}`);
    }
    for (const k of Object.keys(json)) {
      if (k !== "model" && k !== "train") {
        throw new ConfigError(`--config ${values.config}: unknown section "${k}" (model, train)`);
      }
    }
    model = mergeConfig(
      model,
      (json.model ?? {}) as Record<string, unknown>,
      `${values.config}: model`,
    );
    train = mergeConfig(
      train,
      (json.train ?? {}) as Record<string, unknown>,
      `${values.config}: train`,
    );
  }
  const num = (name: string, v: string | undefined) => numberFlag(name, v);
  train.steps = num("steps", values.steps) ?? train.steps;
  train.batch = num("batch", values.batch) ?? train.batch;
  train.lr = num("lr", values.lr) ?? train.lr;
  train.seed = num("seed", values.seed) ?? train.seed;
  train.evalEvery = num("eval-every", values["eval-every"]) ?? train.evalEvery;
  train.checkpointEvery = num("checkpoint-every", values["checkpoint-every"]) ??
    train.checkpointEvery;
  const epochs = numberFlag("epochs", values.epochs) ?? null;
  if (epochs !== null && values.steps !== undefined) {
    throw new UsageError("give --steps or --epochs, not both");
  }
  if (epochs !== null && !(epochs > 0)) throw new UsageError(`--epochs must be > 0, got ${epochs}`);
  validateModelConfig(model);
  validateTrainConfig(train, model);
  const stat = await Deno.stat(values.data).catch(() => null);
  if (!stat?.isDirectory) throw new UsageError(`--data ${values.data} is not a folder`);
  return {
    data: values.data!,
    dev: values.dev ?? null,
    out: values.out!,
    resume: values.resume!,
    configFile: values.config ?? null,
    model,
    train,
    epochs,
    reportClips: numberFlag("report-clips", values["report-clips"], { min: 0, integer: true })!,
    report: !values["no-report"],
    quiet: values.quiet!,
  };
}

/** Train and dev clips, from a prepared cache or by preparing a Common Voice folder. */
async function loadData(
  args: TrainArgs,
  features: ModelConfig["features"],
): Promise<{ train: MelClip[]; dev: MelClip[]; audioDir: string | null }> {
  const asClips = (loaded: Awaited<ReturnType<typeof loadCache>>) =>
    loaded.map((c) => ({ name: c.path, frames: c.frames, mel: c.mel }));
  if (await readCacheIndex(args.data)) {
    const train = asClips(await loadCache(args.data, features));
    const dev = args.dev ? asClips(await loadCache(args.dev, features)) : [];
    return { train, dev, audioDir: null };
  }
  const splits: Record<string, MelClip[]> = {};
  for (const split of ["train", "dev"]) {
    const opts = parsePrepareArgs([
      "--data",
      args.data,
      "--split",
      split,
      "--out",
      nodePath.join(args.out, "cache", split),
    ]);
    opts.features = features;
    const { index, skipped } = await prepare(opts);
    if (skipped.length) {
      console.error(
        `prepare ${split}: skipped ${skipped.length} clips (see ${opts.out}/index.json)`,
      );
    }
    splits[split] = asClips(await loadCache(opts.out, features));
    if (index.shards.length === 0 && split === "train") {
      throw new ConfigError(`${args.data}: no training clips`);
    }
  }
  return { train: splits.train, dev: splits.dev, audioDir: nodePath.join(args.data, "clips") };
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

/** Runs training; returns the final eval (if a dev split exists). */
export async function train(
  args: TrainArgs,
  hooks: TrainHooks = {},
): Promise<{ eval: EvalStats | null; trainer: VaeTrainer }> {
  await Deno.mkdir(args.out, { recursive: true });
  await removeStaleTempFiles(args.out, (name) => OUTPUT_FILES.includes(name));
  const ckptPath = nodePath.join(args.out, "checkpoint.safetensors");
  const resumed = args.resume ? await loadCheckpoint(ckptPath) : null;
  let trainConfig: TrainConfig = { ...args.train };
  let modelConfig = args.model;
  if (resumed) {
    if (!resumed.state) {
      throw new ConfigError(`${ckptPath} holds no training state; cannot resume from it`);
    }
    // Without --config the checkpoint's own architecture is used; with one it must match.
    if (args.configFile === null) {
      modelConfig = resumed.model;
      validateModelConfig(modelConfig, `${ckptPath}: model config`);
    } else checkModelConfig(resumed, args.model);
    // Keep the run's own settings; only the step budget may be extended on resume.
    trainConfig = { ...(resumed.train ?? args.train), steps: args.train.steps };
  }
  const features = modelConfig.features;
  const data = await loadData(args, features);
  if (args.epochs !== null) {
    const frames = data.train.reduce((n, c) => n + c.frames, 0);
    trainConfig.steps = Math.max(
      1,
      Math.ceil((args.epochs * frames) / (trainConfig.batch * trainConfig.cropFrames)),
    );
  }
  const model = new MelVae(modelConfig, trainConfig.seed);
  const sampler = new CropSampler(
    data.train,
    features.nMels,
    trainConfig.cropFrames,
    trainConfig.batch,
    trainConfig.seed,
  );
  const trainer = new VaeTrainer(model, trainConfig, sampler);
  const lossHook = hooks.lossHook;
  if (lossHook) trainer.lossHook = (loss) => lossHook(loss, trainer.step);
  let history: TrainPoint[] = [];
  let evals: EvalPoint[] = [];
  if (resumed) {
    loadModelWeights(model, resumed);
    loadOptimizerState(trainer.optimizer, resumed);
    const st = resumed.state!;
    trainer.step = st.step;
    trainer.skippedSteps = st.skippedSteps;
    trainer.gpuRng.setState(st.gpuRng);
    sampler.state = st.cropRng;
    ({ train: history, evals } = st.history as { train: TrainPoint[]; evals: EvalPoint[] });
    console.error(`resumed ${ckptPath} at step ${st.step}`);
  } else {
    const { mean, std } = normalizationStats(data.train, features.nMels);
    model.setNormalization(mean, std);
  }
  const save = async () => {
    await saveCheckpoint(ckptPath, model, {
      train: trainConfig,
      optimizer: trainer.optimizer,
      state: {
        step: trainer.step,
        gpuRng: trainer.gpuRng.state(),
        cropRng: sampler.state,
        skippedSteps: trainer.skippedSteps,
        history: { train: history, evals },
      },
    });
  };
  let interrupted = false;
  const onSignal = () => interrupted = true;
  Deno.addSignalListener("SIGINT", onSignal);
  const progress = new Progress("train", trainConfig.steps);
  const start = performance.now();
  const startStep = trainer.step;
  let lastEval: EvalStats | null = null;
  try {
    while (trainer.step < trainConfig.steps && !interrupted) {
      trainer.recordStep();
      const evalDue = data.dev.length > 0 &&
        (trainer.step % trainConfig.evalEvery === 0 || trainer.step === trainConfig.steps);
      const saveDue = trainer.step % trainConfig.checkpointEvery === 0 ||
        trainer.step === trainConfig.steps;
      // The numbers are read (one wait for the GPU) only when a line, an eval or a save is due;
      // a read first, so a run stopped by non-finite steps is never saved past its stop.
      // With AUDIO_GEN_AUTOTUNE, the first step has met every shape: time the tile candidates.
      if (trainer.step === startStep + 1) {
        const tuned = await ag.tunePending();
        if (Object.keys(tuned).length && !args.quiet) {
          console.error(`autotuned: ${JSON.stringify(tuned)}`);
        }
      }
      if (trainer.step % LOG_EVERY === 0 || evalDue || saveDue) {
        const s = await trainer.readStats();
        if (s.skipped) {
          console.error(
            `\nsteps ${
              s.step - s.steps + 1
            }–${s.step}: ${s.skipped} skipped (non-finite loss or gradient)`,
          );
        }
        const fps = ((trainer.step - startStep) * trainConfig.batch * trainConfig.cropFrames) /
          ((performance.now() - start) / 1000);
        if (s.steps > s.skipped) {
          history.push({
            step: s.step,
            elbo: s.elbo,
            recon: s.recon,
            kl: s.kl,
            framesPerSecond: fps,
          });
        }
        if (!args.quiet) {
          progress.update(trainer.step, [...formatStats(s), `${fps.toFixed(0)} frames/s`]);
        }
      }
      if (evalDue) {
        lastEval = await trainer.evaluate(data.dev);
        evals.push({ step: trainer.step, ...evalNumbers(lastEval) });
      }
      if (saveDue) await save();
    }
  } catch (e) {
    if (e instanceof NonFiniteError) console.error(`\n${e.message}`);
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  if (interrupted) {
    await trainer.readStats(); // the steps since the last read, so the save has their counts
    await save();
    console.error(`\ninterrupted: saved ${ckptPath} at step ${trainer.step}`);
  } else if (!args.quiet) progress.done(trainer.step);
  if (args.report) {
    await writeReport(
      args,
      model,
      trainConfig,
      data,
      history,
      evals,
      lastEval,
      ckptPath,
      trainer.step,
    );
  }
  return { eval: lastEval, trainer };
}

function evalNumbers(e: EvalStats): Record<string, number> {
  return {
    elbo: e.elbo,
    recon: e.recon,
    kl: e.kl,
    activeDims: e.activeDims,
    melLsd: e.melLsd,
    mcd: e.mcd,
  };
}

async function writeReport(
  args: TrainArgs,
  model: MelVae,
  trainConfig: TrainConfig,
  data: { train: MelClip[]; dev: MelClip[]; audioDir: string | null },
  history: TrainPoint[],
  evals: EvalPoint[],
  lastEval: EvalStats | null,
  ckptPath: string,
  step: number,
): Promise<void> {
  const features = model.config.features;
  const { nMels, sampleRate } = features;
  const toAudio = (logMelFrames: Float32Array, frames: number) =>
    ag.tidy(() =>
      melToAudio(ag.tensor(logMelFrames, [1, frames, nMels]), features, { iterations: 32, seed: 1 })
        .toArray()
    );
  const examples: ReportExample[] = [];
  const source = data.dev.length ? data.dev : data.train;
  for (const clip of source.slice(0, args.reportClips)) {
    const { input, output, frames } = await reconstructClip(model, clip);
    let originalAudio: Float32Array | undefined;
    if (data.audioDir) {
      originalAudio =
        (await loadAudio(nodePath.join(data.audioDir, clip.name), { sampleRate }).catch(() => null))
          ?.samples;
    }
    examples.push({
      name: clip.name,
      nMels,
      frames,
      inputMel: input,
      reconMel: output,
      originalAudio: originalAudio ?? await toAudio(input, frames),
      reconAudio: await toAudio(output, frames),
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
      sampleRate,
    });
  }
  await writeFileAtomic(
    nodePath.join(args.out, "sample.wav"),
    encodeWav(samples[0].audio!, sampleRate),
  );
  const evalTable: Record<string, Record<string, number>> = {};
  if (lastEval) {
    evalTable[`dev (${lastEval.clips} clips, ${lastEval.frames} frames)`] = evalNumbers(lastEval);
  }
  const html = await renderReport({
    title: "audio-gen VAE training report",
    createdAt: new Date().toISOString(),
    checkpoint: ckptPath,
    step,
    config: { model: model.config, train: trainConfig },
    train: history,
    evals,
    evalTable,
    examples,
    samples,
    notes: [
      "Reconstructions use z = μ. Audio is re-synthesised from mels with 32 iterations of fast Griffin-Lim.",
      "ELBO, recon and KL are nats per mel frame; mel-LSD and MCD are in dB (TARGETS.md definitions).",
    ],
  });
  await writeFileAtomic(nodePath.join(args.out, "report.html"), html);
}

if (import.meta.main) {
  await runCommand("train", USAGE, async () => {
    const args = await parseTrainArgs(Deno.args);
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
