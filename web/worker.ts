/**
 * The page's engine Worker: owns the WebGPU device, the base and adapted models and the live
 * adaptation loop (web/live.ts), so that the page stays responsive while the GPU works. Answers
 * the page's requests (web/protocol.ts), takes microphone audio straight from the AudioWorklet
 * over a MessagePort, and reports status, spectrogram frames and failures as events. When the
 * device is lost, the last CPU copy of the weights is still offered for download.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { ConfigError } from "../vae/config.ts";
import { sameFeatures } from "../audio/features.ts";
import {
  decodeCheckpoint,
  encodeCheckpoint,
  modelFromCheckpoint,
} from "../vae/checkpoint_format.ts";
import type { MelVae } from "../vae/model.ts";
import type { MelClip } from "../vae/data.ts";
import type { TrainConfig } from "../vae/config.ts";
import { adaptationLr } from "../vae/adapt.ts";
import { SafetensorsError } from "../vae/safetensors.ts";
import { reconstructAudio, samplePrior } from "../vae/sampling.ts";
import { LiveAdaptation, liveConfig, PRIOR_REPLAY, priorReplay, SerialQueue } from "./live.ts";
import { runOpChecks } from "./op_checks.ts";
import { decodeVocoderCheckpoint, vocoderFromCheckpoint } from "../vocoder/checkpoint_format.ts";
import { checkSameFeatures } from "../vocoder/config.ts";
import type { Vocoder } from "../vocoder/model.ts";
import { type AudioOut, describeAudioOut, melVocoderOf } from "../vocoder/synthesis.ts";
import type {
  AdapterSummary,
  CheckpointFile,
  Failure,
  LiveSettings,
  ModelSummary,
  Reply,
  Request,
  Sound,
  WorkerEvent,
} from "./protocol.ts";

/** A failure with a kind the page knows how to explain. */
class PageError extends Error {
  constructor(readonly kind: Failure["kind"], message: string) {
    super(message);
  }
}

const scope = globalThis as unknown as {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
};

/**
 * Conv tiles for software adapters (Chrome's SwiftShader): the engine's default 8 × 8 register
 * blocks, tuned for lavapipe, take SwiftShader's shader compiler ~30 s per pipeline on a 2-core
 * machine; 4 × 4 blocks compile in ~0.15 s. Hardware adapters keep the engine's default.
 */
const SOFTWARE_CONV_CONFIG = { bm: 4, bn: 4, wgX: 16, wgY: 4 } as const;

const gpu = new SerialQueue();
let device: GPUDevice | null = null;
let lost: GPUDeviceLostInfo | null = null;
/** The adapted and the base model, and the speech the base was trained on when it carries it. */
let models: {
  model: MelVae;
  base: MelVae;
  name: string;
  replay: MelClip[] | null;
  train: TrainConfig | null;
} | null = null;
let live: LiveAdaptation | null = null;
let running: Promise<void> | null = null;
let audioPort: MessagePort | null = null;
/** The neural vocoder the server offered (null: sounds go through Griffin-Lim). */
let vocoder: { model: Vocoder; name: string } | null = null;

function send(event: WorkerEvent, transfer: Transferable[] = []): void {
  scope.postMessage(event, transfer);
}

function lostMessage(): string {
  const snap = live?.snapshot;
  const kept = snap
    ? `What was learned up to step ${snap.step} is kept: "Download adapted.safetensors" still works.`
    : "Nothing had been learned yet.";
  return `The GPU device was lost (${lost?.reason ?? "unknown"}: ${
    lost?.message || "no details"
  }). Adaptation stopped. ${kept} Reload the page to start again.`;
}

async function init(): Promise<AdapterSummary> {
  if (device) return summary();
  try {
    const runtime = await ag.init();
    device = runtime.device;
  } catch (e) {
    if (e instanceof ag.NoAdapterError) {
      // The engine's message names the cause in its first parentheses, then gives Deno advice.
      const reason = e.message.match(/was found \((.*?)\)\. /)?.[1] ?? e.message;
      throw new PageError("no-webgpu", reason);
    }
    throw e;
  }
  const report = await ag.adapterReport();
  if (report.isFallbackAdapter || report.architecture === "swiftshader") {
    ag.rt().kernelChoices.convTile = SOFTWARE_CONV_CONFIG;
  }
  device.lost.then((info) => {
    lost = info;
    live?.stop();
    send({
      event: "failed",
      failure: { kind: "device-lost", message: lostMessage() },
      snapshotStep: live?.snapshot?.step ?? null,
    });
  });
  return summary();
}

async function summary(): Promise<AdapterSummary> {
  const a = await ag.adapterReport();
  return {
    description: a.description,
    vendor: a.vendor,
    architecture: a.architecture,
    isFallbackAdapter: a.isFallbackAdapter,
  };
}

async function stopLive(): Promise<void> {
  live?.stop();
  await running;
  live?.dispose();
  live = null;
  running = null;
  audioPort?.close();
  audioPort = null;
}

async function load(name: string, bytes: ArrayBuffer): Promise<ModelSummary> {
  if (!device) throw new PageError("not-ready", "the GPU is not ready yet");
  let ckpt;
  try {
    ckpt = decodeCheckpoint(new Uint8Array(bytes), name);
  } catch (e) {
    if (e instanceof SafetensorsError || e instanceof ConfigError) {
      throw new PageError("bad-checkpoint", e.message);
    }
    throw e;
  }
  // Build the new models first: a file that does not fit leaves the running session alone.
  const [model, base] = await gpu.run(() => {
    const made: MelVae[] = [];
    try {
      made.push(modelFromCheckpoint(ckpt));
      made.push(modelFromCheckpoint(ckpt));
    } catch (e) {
      for (const m of made) m.dispose();
      throw new PageError("bad-checkpoint", (e as Error).message);
    }
    return Promise.resolve(made);
  });
  await stopLive();
  models?.model.dispose();
  models?.base.dispose();
  models = { model, base, name, replay: ckpt.replay, train: ckpt.train };
  const parameters = [...model.stateDict().values()].reduce((n, t) => n + t.size, 0);
  const trainable = [...model.namedParameters().keys()].filter((k) => k.startsWith("decoder."));
  return {
    name,
    bytes: bytes.byteLength,
    parameters,
    sampleRate: model.config.features.sampleRate,
    nMels: model.config.features.nMels,
    channels: model.config.channels,
    latentDim: model.config.latentDim,
    trainableTensors: trainable.length,
    replayClips: ckpt.replay?.length ?? PRIOR_REPLAY.clips,
    replayFrom: ckpt.replay ? "training speech" : "prior samples",
  };
}

/**
 * Loads a neural vocoder for the page's sounds; one made for other features than the loaded
 * model's is refused (the page keeps Griffin-Lim and says why).
 */
async function loadVocoder(name: string, bytes: ArrayBuffer): Promise<{ voice: string }> {
  if (!models) throw new PageError("not-ready", "load a model first");
  const features = models.model.config.features;
  const made = await gpu.run(() => {
    try {
      const ckpt = decodeVocoderCheckpoint(new Uint8Array(bytes), name);
      checkSameFeatures(ckpt.config.features, features, name, "the loaded model");
      return Promise.resolve(vocoderFromCheckpoint(ckpt));
    } catch (e) {
      throw new PageError("bad-checkpoint", (e as Error).message);
    }
  });
  vocoder?.model.dispose();
  vocoder = { model: made, name };
  return { voice: describeAudioOut(audioOut({})) };
}

/** How the page's sounds are made: the vocoder when one fits the model, else Griffin-Lim. */
function audioOut(settings: LiveSettings): AudioOut {
  // A model of other features may have been loaded since the vocoder was.
  const fits = vocoder !== null && models !== null &&
    sameFeatures(vocoder.model.config.features, models.model.config.features);
  return fits
    ? { kind: "vocoder", vocoder: vocoder!.model, name: vocoder!.name }
    : { kind: "griffin-lim", iterations: settings.griffinLimIterations ?? 32 };
}

async function listen(
  port: MessagePort,
  sampleRate: number,
  settings: LiveSettings,
): Promise<{ deviceRate: number; modelRate: number }> {
  if (!models) throw new PageError("not-ready", "load a model first");
  if (lost) throw new PageError("device-lost", lostMessage());
  await stopLive();
  const { model, base } = models;
  // Rehearse the real speech a checkpoint of `train` carries; else samples of the base's prior.
  const replay = models.replay ??
    await gpu.run(() => priorReplay(base, PRIOR_REPLAY.clips, PRIOR_REPLAY.seconds));
  let session: LiveAdaptation;
  try {
    session = new LiveAdaptation(
      model,
      base,
      replay,
      sampleRate,
      liveConfig(settings, adaptationLr(models.train)),
      gpu,
      {
        onStatus: (stats) => send({ event: "status", stats }),
        onFrames: (pair) => send({ event: "frames", pair }),
        onError: (e) => {
          if (lost) return; // the device-lost event says it better
          send({
            event: "failed",
            failure: { kind: "gpu-error", message: e.message },
            snapshotStep: session.snapshot?.step ?? null,
          });
        },
      },
    );
  } catch (e) {
    throw new PageError("other", (e as Error).message);
  }
  session.carriedReplay = models.replay ?? undefined;
  live = session;
  audioPort = port;
  port.onmessage = (ev: MessageEvent<Float32Array>) => session.push(ev.data);
  running = session.run();
  return { deviceRate: sampleRate, modelRate: model.config.features.sampleRate };
}

async function hear(what: Sound["what"], settings: LiveSettings): Promise<Sound> {
  if (!models) throw new PageError("not-ready", "load a model first");
  if (lost) throw new PageError("device-lost", lostMessage());
  const { model } = models;
  const sampleRate = model.config.features.sampleRate;
  const out = audioOut(settings);
  const voice = describeAudioOut(out);
  const speaker = melVocoderOf(out, model.config.features);
  if (what === "prior") {
    const samples = await gpu.run(() =>
      ag.tidy(() =>
        speaker.synthesize(samplePrior(model, 3, Math.floor(Math.random() * 1e6))).toArray()
      )
    );
    return { what, sampleRate, samples, voice };
  }
  const utterance = live?.lastUtterance();
  if (!utterance || utterance.length < sampleRate / 4) {
    throw new PageError("not-ready", "no utterance heard yet: say something first");
  }
  if (what === "original") return { what, sampleRate, samples: utterance, voice: "the microphone" };
  const samples = await gpu.run(() =>
    ag.tidy(() => speaker.synthesize(reconstructAudio(model, utterance)).toArray())
  );
  return { what, sampleRate, samples, voice };
}

async function download(): Promise<CheckpointFile> {
  if (!models) throw new PageError("not-ready", "load a model first");
  if (lost) {
    const snap = live?.snapshot;
    if (!snap) throw new PageError("device-lost", lostMessage());
    return { bytes: snap.bytes, step: snap.step, fromSnapshot: true };
  }
  if (live) {
    const snap = await live.takeSnapshot();
    return { bytes: snap.bytes, step: snap.step, fromSnapshot: false };
  }
  const bytes = await gpu.run(() =>
    encodeCheckpoint(models!.model, { replay: models!.replay ?? undefined })
  );
  return { bytes, step: 0, fromSnapshot: false };
}

async function handle(req: Request): Promise<unknown> {
  switch (req.type) {
    case "init":
      return await init();
    case "load":
      return await load(req.name, req.bytes);
    case "load-vocoder":
      return await loadVocoder(req.name, req.bytes);
    case "listen":
      return await listen(req.port, req.sampleRate, req.settings);
    case "learning":
      if (live) live.learning = req.on;
      return { on: live?.learning ?? false };
    case "hear":
      return await hear(req.what, req.settings);
    case "download":
      return await download();
    case "selfcheck":
      if (!device) throw new PageError("not-ready", "the GPU is not ready yet");
      return await gpu.run(() => runOpChecks());
    case "reconstruct-last": {
      const samples = live?.lastUtterance();
      if (!live || !samples) throw new PageError("not-ready", "no utterance heard yet");
      return { samples, pair: await live.melPairOf(samples) };
    }
    case "lose-device":
      device?.destroy();
      return { destroyed: true };
  }
}

scope.onmessage = async (ev: MessageEvent<Request & { id: number }>) => {
  const { id } = ev.data;
  let reply: Reply;
  try {
    reply = { id, ok: true, result: await handle(ev.data) };
  } catch (e) {
    const kind = e instanceof PageError ? e.kind : lost ? "device-lost" : "other";
    const message = kind === "device-lost" && !(e instanceof PageError)
      ? lostMessage()
      : (e as Error).message;
    reply = { id, ok: false, failure: { kind, message } };
  }
  scope.postMessage(reply);
};
