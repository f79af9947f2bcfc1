/**
 * Messages between the page (web/main.ts) and the engine Worker (web/worker.ts). Requests carry
 * an id and get exactly one reply with that id; the worker also sends events (status, spectrogram
 * frames, a failure) on its own. Audio does not pass through here: the AudioWorklet posts it
 * straight to the worker over a MessagePort handed over by `listen`.
 * @module
 */
import type { LiveStats, MelPair } from "./live.ts";
import type { OpCheckResult } from "./op_checks.ts";

/** Settings the page may pass (from its URL) to override the defaults. */
export interface LiveSettings {
  stepsPerSecond?: number;
  batch?: number;
  replayBatch?: number;
  cropFrames?: number;
  heldOutSeconds?: number;
  lr?: number;
  encoderLayers?: number;
  displayFrames?: number;
  /** Griffin-Lim iterations when turning spectrograms into sound (default 32). */
  griffinLimIterations?: number;
}

/** What the page asks. */
export type Request =
  | { type: "init" }
  | { type: "load"; name: string; bytes: ArrayBuffer }
  | { type: "load-vocoder"; name: string; bytes: ArrayBuffer }
  | { type: "listen"; port: MessagePort; sampleRate: number; settings: LiveSettings }
  | { type: "learning"; on: boolean }
  | { type: "hear"; what: "reconstruction" | "original" | "prior"; settings: LiveSettings }
  | { type: "download" }
  | { type: "selfcheck" }
  | { type: "reconstruct-last" }
  | { type: "lose-device" };

/** The adapter the worker runs on. */
export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
}

/** A loaded model, for the page to describe. */
export interface ModelSummary {
  name: string;
  bytes: number;
  parameters: number;
  sampleRate: number;
  nMels: number;
  channels: number;
  latentDim: number;
  trainableTensors: number;
  replayClips: number;
  /** What is rehearsed: the checkpoint's own training speech, or samples of its prior. */
  replayFrom: "training speech" | "prior samples";
}

/** Audio the page should play. */
export interface Sound {
  what: "reconstruction" | "original" | "prior";
  /** What turned the spectrogram into this sound (the neural vocoder or Griffin-Lim). */
  voice: string;
  sampleRate: number;
  samples: Float32Array;
}

/** The adapted weights for download. */
export interface CheckpointFile {
  bytes: Uint8Array;
  step: number;
  /** True when the device is gone and these are the last copy taken before. */
  fromSnapshot: boolean;
}

/** Why something failed, so the page can say what to do. */
export type FailureKind =
  | "no-webgpu"
  | "bad-checkpoint"
  | "device-lost"
  | "gpu-error"
  | "not-ready"
  | "other";

/** A failure sent to the page. */
export interface Failure {
  kind: FailureKind;
  message: string;
}

/** Replies by request type. */
export interface Replies {
  init: AdapterSummary;
  load: ModelSummary;
  /** What the page's sounds go through from now on, e.g. `vocoder vocoder.safetensors`. */
  "load-vocoder": { voice: string };
  listen: { deviceRate: number; modelRate: number };
  learning: { on: boolean };
  hear: Sound;
  download: CheckpointFile;
  selfcheck: OpCheckResult[];
  "reconstruct-last": { samples: Float32Array; pair: MelPair };
  "lose-device": { destroyed: true };
}

/** A reply to request `id`. */
export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; failure: Failure };

/** What the worker sends unasked. */
export type WorkerEvent =
  | { event: "status"; stats: LiveStats }
  | { event: "frames"; pair: MelPair }
  | { event: "failed"; failure: Failure; snapshotStep: number | null };
