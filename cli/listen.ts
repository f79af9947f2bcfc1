/**
 * `deno task listen`: learns your voice from the microphone. Audio is captured from an ALSA
 * device through FFI (`--device`, default `default`, which on a desktop goes through
 * PulseAudio/PipeWire), or read from `--input file.wav` / `--input -` (raw S16_LE mono on stdin,
 * at `--rate`), resampled to the model rate, gated by voice activity, and used to fine-tune a
 * pretrained checkpoint's decoder live (vae/adapt.ts). A status line shows seconds heard and
 * voiced, steps, the held-out reconstruction loss (base → now), overruns and the real-time
 * factor. `adapted.safetensors` is saved atomically every `--save-every` seconds, at the end, on
 * Ctrl-C / SIGTERM, and before exiting on a device error, once the session has taken a step. It
 * records the base it was adapted from (the base file's SHA-256), the steps and voiced seconds:
 * a later session for the same base continues from it (weights and optimizer moments), one for
 * another base is refused, and a session that learns nothing leaves it as it was (`--fresh`
 * starts over from the base).
 *
 * Exit codes: 0 done, 1 a broken --input file (one found damaged past its start: after saving
 * what was learned), 3 no WebGPU adapter, 4 ALSA library or device unavailable at start, 5 the
 * device failed mid-stream (what was learned is saved first), 64 bad command line or an --out
 * it would not replace.
 * @module
 */
import * as nodePath from "node:path";
import { AlsaDeviceError, AlsaLibraryError, DEFAULT_ALSA_LIBRARY } from "../audio/alsa.ts";
import {
  AlsaSource,
  type AudioSource,
  Capture,
  FileSource,
  RawS16Source,
} from "../audio/capture.ts";
import { EnergyVad } from "../audio/vad.ts";
import { AudioDecodeError } from "../audio/errors.ts";
import { LogMel, minCenteredSamples } from "../audio/features.ts";
import { loadCache, readCacheIndex } from "../audio/feature_cache.ts";
import { ConfigError, type ModelConfig } from "../vae/config.ts";
import {
  type AdaptationRecord,
  fileSha256,
  loadCheckpoint,
  type LoadedCheckpoint,
  loadModel,
  loadModelWeights,
  loadOptimizerState,
  saveCheckpoint,
} from "../vae/checkpoint.ts";
import type { MelClip } from "../vae/data.ts";
import {
  adaptationLr,
  type AdaptConfig,
  DEFAULT_ADAPT,
  melClip,
  VoiceAdapter,
} from "../vae/adapt.ts";
import { EXIT_USAGE, numberFlag, parseFlags, runCommand } from "./args.ts";
import { initOrExit } from "./device_flags.ts";
import { readCommonVoiceSplit } from "../audio/commonvoice.ts";
import { decodeClips } from "../audio/clips.ts";
import { formatDuration } from "./progress.ts";

export { EXIT_USAGE };
/** Exit code when the ALSA library or device cannot be opened. */
export const EXIT_NO_AUDIO = 4;
/** Exit code when the device fails mid-stream (after saving what was learned). */
export const EXIT_DEVICE_FAILED = 5;

const USAGE =
  `usage: deno task listen [--checkpoint CKPT] [--out adapted.safetensors] [--device NAME]
                        [--input file.wav | --input -] [--rate HZ] [--seconds N]
                        [--save-every S] [--replay DIR] [--encoder-layers K] [--lr X]
                        [--steps-per-second K] [--held-out-seconds S] [--alsa-lib LIB]
                        [--fresh] [--quiet]
  --checkpoint  pretrained model (default models/base.safetensors, the shipped base model)
  --out         where the adapted model goes (default out/listen/adapted.safetensors); one
                adapted from the same --checkpoint before is continued
  --fresh       start over from --checkpoint, replacing --out once this session has learned
  --device      ALSA capture device (default "default"; see arecord -L)
  --input       an audio file (WAV, MP3, FLAC, Ogg), or - for raw S16_LE mono on stdin (at --rate)
  --rate        rate asked of the device / of raw stdin (default 48000 / 16000 Hz)
  --seconds     stop after this many seconds of audio (default: until Ctrl-C)
  --replay      pretraining features to rehearse: a prepared cache (index.json) or a corpus
                folder with train.tsv (default: the real speech the checkpoint carries; for
                an older checkpoint without it, the bundled sample audio/sample/en)
  --encoder-layers  also fine-tune the encoder's last K layers (default 0: decoder only)
  --lr          adaptation learning rate (default: the rate the base's training ended with,
                at most 1e-3; 1e-4 for the shipped base)
  --steps-per-second  adaptation steps per second of voiced audio (default 4)`;

/** A parsed listen command line. */
export interface ListenOptions {
  checkpoint: string;
  out: string;
  device: string;
  input: string | null;
  rate: number | null;
  seconds: number | null;
  saveEvery: number;
  replay: string | null;
  alsaLib: string;
  stepsPerSecond: number;
  /** Start over from the base instead of continuing an earlier adapted --out. */
  fresh: boolean;
  quiet: boolean;
  adapt: AdaptConfig;
}

/** Parses and checks the command line (throws UsageError before any work). */
export function parseListenArgs(args: string[]): ListenOptions {
  const values = parseFlags(args, {
    checkpoint: { type: "string", default: "models/base.safetensors" },
    out: { type: "string", default: "out/listen/adapted.safetensors" },
    device: { type: "string", default: "default" },
    input: { type: "string" },
    rate: { type: "string" },
    seconds: { type: "string" },
    "save-every": { type: "string", default: "30" },
    replay: { type: "string" },
    "alsa-lib": { type: "string", default: DEFAULT_ALSA_LIBRARY },
    "encoder-layers": { type: "string", default: "0" },
    lr: { type: "string" },
    "steps-per-second": { type: "string", default: "4" },
    "held-out-seconds": { type: "string" },
    seed: { type: "string" },
    fresh: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  });
  const adapt: AdaptConfig = {
    ...DEFAULT_ADAPT,
    encoderLayers: numberFlag("encoder-layers", values["encoder-layers"], {
      min: 0,
      integer: true,
    })!,
    // NaN: not given, the base's own (adaptationLr), known once its checkpoint is read.
    lr: numberFlag("lr", values.lr, { min: 1e-9 }) ?? NaN,
    heldOutSeconds: numberFlag("held-out-seconds", values["held-out-seconds"], { min: 0 }) ??
      DEFAULT_ADAPT.heldOutSeconds,
    seed: numberFlag("seed", values.seed, { min: 0, integer: true }) ?? DEFAULT_ADAPT.seed,
  };
  return {
    checkpoint: values.checkpoint,
    out: values.out,
    device: values.device,
    input: values.input ?? null,
    rate: numberFlag("rate", values.rate, { min: 1000, integer: true }) ?? null,
    seconds: numberFlag("seconds", values.seconds, { min: 0.1 }) ?? null,
    saveEvery: numberFlag("save-every", values["save-every"], { min: 0.1 })!,
    replay: values.replay ?? null,
    alsaLib: values["alsa-lib"],
    stepsPerSecond: numberFlag("steps-per-second", values["steps-per-second"], { min: 0 })!,
    fresh: values.fresh,
    quiet: values.quiet,
    adapt,
  };
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** Replay features: a prepared cache, or the train split of a corpus folder (decoded here). */
export async function loadReplay(
  dir: string | null,
  model: ModelConfig,
  maxClips = 64,
): Promise<{ clips: MelClip[]; from: string }> {
  // A checkpoint from `train` carries its own replay; this serves older ones and --replay.
  const candidates = dir ? [dir] : ["audio/sample/en"];
  if (!dir) {
    console.error(
      "listen: the checkpoint carries no replay of its training speech; rehearsing the bundled " +
        "sample instead (pass --replay CACHE with the features it was trained on)",
    );
  }
  for (const d of candidates) {
    if (await readCacheIndex(d).catch(() => null)) {
      return { clips: await loadCache(d, model.features, maxClips), from: d };
    }
    if (await exists(nodePath.join(d, "train.tsv"))) {
      // A Common Voice folder: read its train split by header names, skipping broken clips.
      const { clips: rows } = await readCommonVoiceSplit(d, "train");
      const logMel = new LogMel(model.features);
      try {
        const clips: MelClip[] = [];
        const decoded = decodeClips(rows.slice(0, maxClips), {
          sampleRate: model.features.sampleRate,
          minSamples: minCenteredSamples(model.features.nFft),
        });
        for await (const { clip, samples } of decoded) {
          clips.push(await melClip(logMel, samples, clip.path));
        }
        return { clips, from: d };
      } finally {
        logMel.dispose();
      }
    }
    if (dir) {
      throw new ConfigError(
        `--replay ${dir}: neither a prepared feature cache (index.json) nor a corpus with train.tsv`,
      );
    }
  }
  console.error("listen: no replay features found; adapting without replay (may forget)");
  return { clips: [], from: "none" };
}

/** Where a session starts: the base's identity and the earlier adapted model it continues. */
export interface AdaptationStart {
  /** SHA-256 of the --checkpoint file. */
  baseSha256: string;
  /** --out as it was, adapted from that base (null: start from the base). */
  previous: LoadedCheckpoint | null;
}

/**
 * Reads what a session starts from, before any GPU work: an existing --out adapted from the same
 * --checkpoint is continued (unless --fresh); one adapted from another base, or that records no
 * base, is refused rather than replaced.
 */
export async function adaptationStart(opts: ListenOptions): Promise<AdaptationStart> {
  const baseSha256 = await fileSha256(opts.checkpoint);
  if (opts.fresh) return { baseSha256, previous: null };
  let previous: LoadedCheckpoint;
  try {
    previous = await loadCheckpoint(opts.out);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { baseSha256, previous: null };
    throw e;
  }
  const record = previous.adaptation;
  const keep = `--fresh starts over from ${opts.checkpoint} (replacing it once the session has ` +
    "learned), or give another --out";
  if (!record) {
    throw new ConfigError(
      `${opts.out} exists but records no base model it was adapted from (an older listen, or ` +
        `not made by listen), so it is not continued or replaced: ${keep}`,
    );
  }
  if (record.baseSha256 !== baseSha256) {
    throw new ConfigError(
      `${opts.out} was adapted from another base model (${record.base}, sha256 ` +
        `${record.baseSha256.slice(0, 12)}…), not ${opts.checkpoint} (sha256 ` +
        `${baseSha256.slice(0, 12)}…), so it is not continued or replaced: ${keep}`,
    );
  }
  return { baseSha256, previous };
}

async function openSource(opts: ListenOptions): Promise<AudioSource> {
  if (opts.input === "-") {
    return new RawS16Source("stdin", opts.rate ?? 16000, Deno.stdin.readable);
  }
  if (opts.input) return await FileSource.open(opts.input);
  return AlsaSource.open(opts.device, opts.rate ?? 48000, opts.alsaLib);
}

/** What a listen run did. */
export interface ListenSummary {
  heard: number;
  voiced: number;
  steps: number;
  overruns: number;
  heldOut: { base: number; now: number };
  wallSeconds: number;
  realTimeFactor: number;
  /** Where the adapted model was saved; null when the session learned nothing (--out untouched). */
  saved: string | null;
  /** The adaptation as saved (every session), or as it was when nothing was saved. */
  record: AdaptationRecord | null;
  /** Whether the session continued an earlier adapted model. */
  continued: boolean;
  deviceRate: number;
  error: Error | null;
  interrupted: boolean;
}

/**
 * Runs the adaptation loop until the input ends, `--seconds`, a signal, or a device error.
 * `source`, when given, is used instead of opening `opts.input` / the device; `from`, when
 * given, is what {@link adaptationStart} read.
 */
export async function listen(
  opts: ListenOptions,
  source?: AudioSource,
  from?: AdaptationStart,
): Promise<ListenSummary> {
  const origin = from ?? await adaptationStart(opts);
  const { model, checkpoint } = await loadModel(opts.checkpoint);
  const { model: base } = await loadModel(opts.checkpoint);
  // Rehearse the real speech the base model carries, unless --replay names other features.
  const replay = !opts.replay && checkpoint.replay
    ? { clips: checkpoint.replay, from: `${opts.checkpoint} (its own replay)` }
    : await loadReplay(opts.replay, model.config);
  source ??= await openSource(opts);
  const rate = model.config.features.sampleRate;
  // The pull toward the pretrained weights (L2-SP) anchors at the base, also when continuing.
  const adapt = {
    ...opts.adapt,
    lr: Number.isNaN(opts.adapt.lr) ? adaptationLr(checkpoint.train) : opts.adapt.lr,
  };
  const adapter = new VoiceAdapter(model, base, replay.clips, adapt);
  const previous = origin.previous;
  const before = previous?.adaptation ?? null;
  let moments = "";
  if (previous) {
    loadModelWeights(model, previous);
    const names = Object.keys(previous.optimizer?.steps ?? {}).sort().join();
    if (previous.optimizer && names === [...adapter.trainable.keys()].sort().join()) {
      loadOptimizerState(adapter.optimizer, previous);
      adapter.optimizer.lr = adapt.lr;
    } else moments = ", optimizer moments restarted (other trainable layers)";
  }
  const vad = new EnergyVad(rate);
  const capture = new Capture(source, rate, { limitSeconds: opts.seconds ?? undefined });
  await Deno.mkdir(nodePath.dirname(opts.out) || ".", { recursive: true });
  if (!opts.quiet) {
    const what = before
      ? `continuing ${opts.out} (${before.steps} steps, ${
        before.voicedSeconds.toFixed(1)
      } s voiced so far${moments}), adapted from ${opts.checkpoint}`
      : `adapting ${opts.checkpoint}`;
    console.error(
      `listening on ${source.name} at ${source.rate} Hz → ${rate} Hz; ${what} ` +
        `(${adapter.trainable.size} tensors, lr ${adapt.lr}; replay: ${replay.clips.length} clips ` +
        `from ${replay.from})`,
    );
  }
  let interrupted = false;
  const onSignal = () => interrupted = true;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  const start = performance.now();
  let lastSave = start, savedSteps = -1;
  let error: Error | null = null;
  let heldOut = { base: NaN, now: NaN };
  const tty = Deno.stderr.isTerminal();
  let lastStatus = 0;
  /** What --out records after this session's steps so far. */
  const record = (): AdaptationRecord => ({
    baseSha256: origin.baseSha256,
    base: opts.checkpoint,
    steps: (before?.steps ?? 0) + adapter.step,
    voicedSeconds: (before?.voicedSeconds ?? 0) + vad.seconds.voiced,
    sessions: (before?.sessions ?? 0) + 1,
  });
  // Saved only once this session has learned (a step): --out is never replaced by a model that
  // learned less than the one it holds.
  const save = async () => {
    if (adapter.step === 0 || adapter.step === savedSteps) return;
    // The base's own replay travels with the adapted model, so adapting it again rehearses it.
    await saveCheckpoint(opts.out, model, {
      optimizer: adapter.optimizer,
      adaptation: record(),
      replay: checkpoint.replay ?? undefined,
    });
    savedSteps = adapter.step;
    lastSave = performance.now();
  };
  const status = async (force = false) => {
    const now = performance.now();
    if (opts.quiet || (!force && now - lastStatus < (tty ? 500 : 5000))) return;
    lastStatus = now;
    heldOut = await adapter.heldOutLoss();
    Deno.stderr.writeSync(new TextEncoder().encode(statusText(now) + (tty ? "" : "\n")));
  };
  const statusText = (now: number) => {
    const wall = (now - start) / 1000;
    const { heard, voiced } = vad.seconds;
    const ho = Number.isFinite(heldOut.now)
      ? `held-out ${heldOut.base.toFixed(3)}→${heldOut.now.toFixed(3)}`
      : "held-out –";
    const earlier = before ? ` (+${before.steps} before)` : "";
    const line = `heard ${formatDuration(heard)}  voiced ${voiced.toFixed(1)} s  steps ` +
      `${adapter.step}${earlier}  ${ho}  overruns ${capture.stats.overruns}  RTF ${
        (heard / Math.max(wall, 1e-9)).toFixed(2)
      }`;
    return tty ? `\r\x1b[2K${line}` : line;
  };
  try {
    while (!interrupted) {
      let x: Float32Array;
      try {
        x = capture.take();
      } catch (e) {
        error = e as Error;
        break;
      }
      if (x.length) await adapter.addVoiced(vad.push(x));
      const target = Math.floor(opts.stepsPerSecond * adapter.seconds.pool);
      if (adapter.ready && adapter.step < target) await adapter.adaptStep();
      else if (capture.done) break;
      else await capture.wait(200);
      if ((performance.now() - lastSave) / 1000 >= opts.saveEvery) await save();
      await status();
    }
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await capture.stop().catch(() => {});
    await save();
  }
  await status(true);
  if (!opts.quiet && tty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  heldOut = await adapter.heldOutLoss();
  const wallSeconds = (performance.now() - start) / 1000;
  const summary: ListenSummary = {
    heard: vad.seconds.heard,
    voiced: vad.seconds.voiced,
    steps: adapter.step,
    overruns: capture.stats.overruns,
    heldOut,
    wallSeconds,
    realTimeFactor: vad.seconds.heard / wallSeconds,
    saved: savedSteps > 0 ? opts.out : null,
    record: savedSteps > 0 ? record() : before,
    continued: before !== null,
    deviceRate: source.rate,
    error,
    interrupted,
  };
  adapter.dispose();
  model.dispose();
  base.dispose();
  return summary;
}

if (import.meta.main) {
  await runCommand("listen", USAGE, async (run) => {
    const opts = parseListenArgs(Deno.args);
    await run.writesFile(opts.out);
    // a file input is decoded before any GPU work: a broken one is refused by name first
    const file = opts.input && opts.input !== "-" ? await FileSource.open(opts.input) : undefined;
    const start = await adaptationStart(opts); // an --out it would replace is refused first
    await initOrExit(Deno.args);
    let s: ListenSummary;
    try {
      s = await listen(opts, file, start);
    } catch (e) {
      if (!(e instanceof AlsaLibraryError || e instanceof AlsaDeviceError)) throw e;
      console.error(`listen: ${e.message}`);
      return EXIT_NO_AUDIO;
    }
    const pct = (s.heldOut.now / s.heldOut.base - 1) * 100;
    const total = s.record && s.continued
      ? ` (${s.record.steps} steps, ${s.record.voicedSeconds.toFixed(1)} s voiced in all)`
      : "";
    const outcome = s.saved
      ? `saved ${s.saved}${total}`
      : `nothing learned, ${opts.out} ${s.continued ? "left as it was" : "not written"}`;
    console.log(
      `heard ${s.heard.toFixed(1)} s (${s.voiced.toFixed(1)} s voiced), ${s.steps} steps, ` +
        `held-out loss ${s.heldOut.base.toFixed(4)} → ${s.heldOut.now.toFixed(4)} ` +
        `(${Number.isFinite(pct) ? pct.toFixed(1) : "?"}%), overruns ${s.overruns}, ` +
        `RTF ${s.realTimeFactor.toFixed(2)} → ${outcome}`,
    );
    if (!s.error) return 0;
    console.error(
      `listen: ${s.error.message}\nlisten: ` +
        (s.saved ? `what was learned is saved in ${s.saved}` : `nothing was learned yet`),
    );
    // A damaged --input file (found past its start) is bad input, not a failed device.
    return s.error instanceof AudioDecodeError ? 1 : EXIT_DEVICE_FAILED;
  });
}
