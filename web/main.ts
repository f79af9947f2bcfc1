/**
 * The page (web/index.html): starts the engine Worker, loads the base model from the server (or a
 * checkpoint file picked or dropped), asks for the microphone with echo cancellation, noise
 * suppression and gain control off, captures it with an AudioWorklet whose blocks go straight to
 * the worker, and shows what the worker reports: seconds heard and voiced, steps, held-out error
 * base vs adapted, real-time factor, and scrolling spectrograms of the input and of its
 * reconstruction. Buttons play the last utterance (as heard and reconstructed), a prior sample,
 * and download `adapted.safetensors`. Every failure (no WebGPU, microphone denied or absent, a
 * file that is not a compatible checkpoint, a lost device) gets a message saying what to do.
 *
 * `window.audioGen` exposes the page's state and a few hooks for the browser tests.
 * @module
 */
import { hzToMel } from "../audio/mel.ts";
import type {
  AdapterSummary,
  CheckpointFile,
  Failure,
  LiveSettings,
  ModelSummary,
  Replies,
  Reply,
  Request,
  Sound,
  WorkerEvent,
} from "./protocol.ts";
import type { LiveStats } from "./live.ts";
import { colourGradientCss, ScrollingSpectrogram } from "./spectrogram.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

// ---- talking to the worker ----

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(f: Failure): void }>();

/** A request to the worker; rejects with the worker's {@link Failure}. */
function call<T extends Request["type"]>(
  req: Extract<Request, { type: T }>,
  transfer: Transferable[] = [],
): Promise<Replies[T]> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    worker.postMessage({ ...req, id }, transfer);
  });
}

worker.onmessage = (ev: MessageEvent<Reply | WorkerEvent>) => {
  const msg = ev.data;
  if ("id" in msg) {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.ok) p?.resolve(msg.result);
    else p?.reject(msg.failure);
    return;
  }
  if (msg.event === "status") showStats(msg.stats);
  else if (msg.event === "frames") {
    spectrogramIn?.push(msg.pair.input, msg.pair.frames);
    spectrogramOut?.push(msg.pair.reconstruction, msg.pair.frames);
  } else if (msg.event === "failed") onFailure(msg.failure);
};
worker.onerror = (ev) => {
  showMessage(`The engine worker failed to start: ${ev.message}`, "error");
  ev.preventDefault();
};

// ---- messages ----

const NO_WEBGPU_HELP = "This page needs WebGPU, and this browser does not offer it. " +
  "Use Chrome or Edge 113 or newer on Windows, macOS or ChromeOS; on Linux, Chrome with " +
  "chrome://flags/#enable-unsafe-webgpu turned on (or started with --enable-unsafe-webgpu); " +
  "Safari 26 or newer; Firefox 141 or newer on Windows. WebGPU also needs the page to come " +
  "from https:// or http://127.0.0.1.";

function showMessage(text: string, kind: "error" | "warning" | "info" = "error"): void {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
  hooks.messages.push({ kind, text });
}

function failureText(f: Failure): string {
  switch (f.kind) {
    case "no-webgpu":
      return `${NO_WEBGPU_HELP} (The browser said: ${f.message}.)`;
    case "bad-checkpoint":
      return `That file cannot be used as a model: ${f.message}. The page needs an audio-gen ` +
        "checkpoint: a .safetensors file written by `deno task train`, `deno task listen` or " +
        "this page's download button. The model in use is unchanged.";
    default:
      return f.message;
  }
}

function onFailure(f: Failure): void {
  showMessage(failureText(f), "error");
  if (f.kind === "device-lost" || f.kind === "gpu-error") {
    setStatus("Stopped: the GPU is gone. What was learned can still be downloaded.");
    for (const id of ["start", "pause", "hear-recon", "hear-orig", "hear-prior", "selfcheck"]) {
      ($(id) as HTMLButtonElement).disabled = true;
    }
  }
}

function setStatus(text: string): void {
  $("status").textContent = text;
}

// ---- state exposed to people debugging and to the browser tests ----

interface Hooks {
  readyMs: number | null;
  adapter: AdapterSummary | null;
  model: ModelSummary | null;
  stats: LiveStats | null;
  messages: { kind: string; text: string }[];
  lastSound: { what: string; seconds: number; rms: number; voice: string } | null;
  /** What the page's sounds go through: "Griffin-Lim" or the vocoder loaded from the server. */
  voice: string | null;
  download: { bytes: number; step: number; fromSnapshot: boolean } | null;
  selfcheck(): Promise<unknown>;
  reconstructLast(): Promise<unknown>;
  loseDevice(): Promise<unknown>;
}

/** A worker failure as an Error (what the test hooks reject with). */
function asError(f: Failure): Error {
  return new Error(`${f.kind}: ${f.message}`);
}

const hooks: Hooks = {
  readyMs: null,
  adapter: null,
  model: null,
  stats: null,
  messages: [],
  lastSound: null,
  voice: null,
  download: null,
  selfcheck: () => runSelfCheck().catch((f) => Promise.reject(asError(f))),
  async reconstructLast() {
    const r = await call({ type: "reconstruct-last" }).catch((f) => Promise.reject(asError(f)));
    return {
      samples: [...r.samples],
      frames: r.pair.frames,
      nMels: r.pair.nMels,
      input: [...r.pair.input],
      reconstruction: [...r.pair.reconstruction],
    };
  },
  loseDevice: () => call({ type: "lose-device" }).catch((f) => Promise.reject(asError(f))),
};
(globalThis as unknown as { audioGen: Hooks }).audioGen = hooks;

// ---- the model ----

function describeModel(m: ModelSummary, from: string): string {
  const mb = (m.bytes / 1e6).toFixed(1);
  return `Model: ${m.name} (${from}, ${mb} MB) — ${(m.parameters / 1e6).toFixed(2)} M ` +
    `parameters, ${m.channels} channels, ${m.latentDim}-dim latent, ${m.nMels} mel bands at ` +
    `${m.sampleRate / 1000} kHz. Learning adapts its decoder (${m.trainableTensors} tensors), ` +
    `rehearsing ${m.replayClips} ${
      m.replayFrom === "training speech" ? "clips of its training speech" : "samples of its prior"
    } so that it keeps other voices.`;
}

/** Fetches the server's neural vocoder, if it has one; without it sounds use Griffin-Lim. */
async function loadVocoder(): Promise<void> {
  const res = await fetch("vocoder.safetensors");
  if (!res.ok) {
    hooks.voice = "Griffin-Lim";
    return;
  }
  try {
    const { voice } = await call({
      type: "load-vocoder",
      name: "vocoder.safetensors",
      bytes: await res.arrayBuffer(),
    });
    hooks.voice = voice;
    $("model-status").textContent += ` Sounds are made by the neural vocoder.`;
  } catch (e) {
    hooks.voice = "Griffin-Lim";
    $("model-status").textContent += ` The server's vocoder was refused (${
      (e as Failure).message
    }); sounds are made by Griffin-Lim.`;
  }
}

let spectrogramIn: ScrollingSpectrogram | null = null;
let spectrogramOut: ScrollingSpectrogram | null = null;

async function loadModel(name: string, bytes: ArrayBuffer, from: string): Promise<boolean> {
  try {
    const m = await call({ type: "load", name, bytes }, [bytes]);
    hooks.model = m;
    $("model-status").textContent = describeModel(m, from);
    spectrogramIn = new ScrollingSpectrogram($<HTMLCanvasElement>("spec-in"), m.nMels);
    spectrogramOut = new ScrollingSpectrogram($<HTMLCanvasElement>("spec-out"), m.nMels);
    drawFrequencyAxes(m);
    if (audio) await attachToWorker();
    else $<HTMLButtonElement>("start").disabled = false;
    $<HTMLButtonElement>("hear-prior").disabled = false;
    await loadVocoder(); // the server's, checked against this model's features
    return true;
  } catch (e) {
    onFailure(e as Failure);
    return false;
  }
}

async function loadFile(file: File): Promise<void> {
  $("message").hidden = true;
  setStatus(`Loading ${file.name}…`);
  const ok = await loadModel(file.name, await file.arrayBuffer(), "from your file");
  setStatus(ok ? readyText() : "The previous model is still in use.");
}

function drawFrequencyAxes(m: ModelSummary): void {
  const top = hzToMel(m.sampleRate / 2);
  for (const axis of document.querySelectorAll(".freq-axis")) {
    axis.replaceChildren();
    for (const hz of [250, 500, 1000, 2000, 4000, 8000]) {
      if (hz > m.sampleRate / 2) continue;
      const label = document.createElement("span");
      label.textContent = hz >= 1000 ? `${hz / 1000} kHz` : `${hz} Hz`;
      label.style.bottom = `${(100 * hzToMel(hz)) / top}%`;
      axis.append(label);
    }
  }
}

// ---- the microphone ----

let audio: { context: AudioContext; node: AudioWorkletNode; stream: MediaStream } | null = null;

function settingsFromUrl(): LiveSettings {
  const q = new URLSearchParams(location.search);
  const num = (k: string) => (q.has(k) ? Number(q.get(k)) : undefined);
  return {
    stepsPerSecond: num("steps-per-second"),
    batch: num("batch"),
    replayBatch: num("replay-batch"),
    cropFrames: num("crop"),
    heldOutSeconds: num("held-out"),
    lr: num("lr"),
    encoderLayers: num("encoder-layers"),
    displayFrames: num("display-frames"),
    griffinLimIterations: num("griffin-lim"),
  };
}

function micFailureText(e: unknown): string {
  const name = (e as DOMException)?.name ?? "";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Microphone access was denied. Allow this page to use the microphone (the " +
      "microphone or lock icon in the address bar → site settings) and press Start again.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "No microphone was found. Connect one (or enable it in your system's sound " +
      "settings) and press Start again.";
  }
  if (name === "NotReadableError") {
    return "The microphone could not be started: another program may be using it, or the " +
      "system blocked it. Close other programs that record and press Start again.";
  }
  return `The microphone could not be opened: ${(e as Error)?.message ?? e}`;
}

/** Gives the worker a fresh port to the capture worklet and starts its loop. */
async function attachToWorker(): Promise<void> {
  if (!audio) return;
  const channel = new MessageChannel();
  audio.node.port.postMessage({ port: channel.port1 }, [channel.port1]);
  const r = await call(
    {
      type: "listen",
      port: channel.port2,
      sampleRate: audio.context.sampleRate,
      settings: settingsFromUrl(),
    },
    [channel.port2],
  );
  const label = audio.stream.getAudioTracks()[0]?.label || "the microphone";
  $("mic-status").textContent = `Listening to ${label} at ${r.deviceRate.toLocaleString("en")} ` +
    `Hz, resampled to ${r.modelRate.toLocaleString("en")} Hz for the model.`;
}

async function start(): Promise<void> {
  const button = $<HTMLButtonElement>("start");
  button.disabled = true;
  $("message").hidden = true;
  if (!navigator.mediaDevices?.getUserMedia) {
    showMessage(
      "This browser gives this page no microphone API: open the page from http://127.0.0.1 " +
        "or https://, in a current browser.",
    );
    button.disabled = false;
    return;
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: false,
        noiseSuppression: false,
        autoGainControl: false,
        channelCount: 1,
      },
    });
  } catch (e) {
    showMessage(micFailureText(e), "error");
    $("mic-status").textContent = "Microphone off.";
    button.disabled = false;
    return;
  }
  const context = new AudioContext();
  await context.audioWorklet.addModule(new URL("./capture_worklet.js", import.meta.url));
  const node = new AudioWorkletNode(context, "audio-gen-capture", {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
  });
  context.createMediaStreamSource(stream).connect(node);
  node.connect(context.destination); // silent; keeps the node pulled by the graph
  audio = { context, node, stream };
  await attachToWorker();
  button.textContent = "Listening…";
  $<HTMLButtonElement>("pause").disabled = false;
  setStatus("Listening. Speak naturally; the numbers below update every half second.");
}

async function toggleLearning(): Promise<void> {
  const button = $<HTMLButtonElement>("pause");
  const on = button.dataset.on !== "false";
  const r = await call({ type: "learning", on: !on });
  button.dataset.on = String(r.on);
  button.textContent = r.on ? "Pause learning" : "Resume learning";
}

// ---- live numbers ----

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "–");

function showStats(s: LiveStats): void {
  hooks.stats = s;
  $("heard").textContent = `${fmt(s.heardSeconds)} s`;
  $("voiced").textContent = `${fmt(s.voicedSeconds)} s`;
  $("steps").textContent = String(s.steps);
  $("steps-rate").textContent = s.steps
    ? `${fmt(s.stepsPerSecond, 2)} steps per second of GPU time`
    : "waiting for speech to learn from";
  if (Number.isFinite(s.heldOut.now) && Number.isFinite(s.heldOut.base)) {
    const pct = (s.heldOut.now / s.heldOut.base - 1) * 100;
    $("heldout").textContent = `${s.heldOut.base.toFixed(3)} → ${s.heldOut.now.toFixed(3)}`;
    $("heldout-change").textContent = `${pct <= 0 ? "" : "+"}${pct.toFixed(1)} %`;
    $("heldout-change").className = pct < 0 ? "better" : "worse";
  } else {
    $("heldout").textContent = "–";
    $("heldout-change").textContent = `needs ${fmt(s.heldOutSeconds, 1)} s more speech`;
  }
  $("rtf").textContent = fmt(s.realTimeFactor, 2);
  $("backlog").textContent = s.backlogSeconds > 0.5
    ? `falling behind: ${fmt(s.backlogSeconds)} s waiting`
    : "audio processed ÷ time passed (1.00 keeps up)";
  $("busy").textContent = `${fmt(100 * s.gpuBusy, 0)} %`;
  for (const id of ["hear-recon", "hear-orig"]) {
    ($(id) as HTMLButtonElement).disabled = s.utteranceSeconds < 0.25;
  }
}

// ---- listening and keeping ----

let playback: AudioContext | null = null;

async function hear(what: Sound["what"]): Promise<void> {
  const names = {
    reconstruction: "your last utterance, reconstructed by the adapted model",
    original: "your last utterance, as heard",
    prior: "a sample from the model's prior",
  };
  $("keep-status").textContent = `Preparing ${names[what]}…`;
  try {
    const sound = await call({ type: "hear", what, settings: settingsFromUrl() });
    const n = sound.samples.length;
    let energy = 0;
    for (const v of sound.samples) energy += v * v;
    hooks.lastSound = {
      what,
      seconds: n / sound.sampleRate,
      rms: Math.sqrt(energy / n),
      voice: sound.voice,
    };
    playback ??= new AudioContext();
    const buffer = playback.createBuffer(1, n, sound.sampleRate);
    buffer.copyToChannel(new Float32Array(sound.samples), 0);
    const source = playback.createBufferSource();
    source.buffer = buffer;
    source.connect(playback.destination);
    source.start();
    $("keep-status").textContent = `Playing ${names[what]} (${fmt(n / sound.sampleRate)} s).`;
  } catch (e) {
    const f = e as Failure;
    $("keep-status").textContent = f.kind === "not-ready" ? `Not yet: ${f.message}.` : "";
    if (f.kind !== "not-ready") onFailure(f);
  }
}

async function download(): Promise<void> {
  let file: CheckpointFile;
  try {
    file = await call({ type: "download" });
  } catch (e) {
    onFailure(e as Failure);
    return;
  }
  const blob = new Blob([file.bytes as Uint8Array<ArrayBuffer>], {
    type: "application/octet-stream",
  });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "adapted.safetensors";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  hooks.download = { bytes: file.bytes.length, step: file.step, fromSnapshot: file.fromSnapshot };
  $("keep-status").textContent = `Saved adapted.safetensors (${
    (file.bytes.length / 1e6).toFixed(1)
  } MB) after ${file.step} steps${
    file.fromSnapshot ? ", the copy kept before the device was lost" : ""
  }.`;
}

// ---- the GPU self-check ----

async function runSelfCheck() {
  const table = $("checks");
  table.replaceChildren();
  $<HTMLButtonElement>("selfcheck").disabled = true;
  try {
    const results = await call({ type: "selfcheck" });
    const head = document.createElement("tr");
    for (const h of ["op", "forward error", "gradient error", ""]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.append(th);
    }
    table.append(head);
    for (const r of results) {
      const row = document.createElement("tr");
      for (
        const text of [
          r.name,
          r.forwardError.toExponential(1),
          r.gradientError.toExponential(1),
          r.passed ? "✓ pass" : "✗ FAIL",
        ]
      ) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      row.className = r.passed ? "pass" : "fail";
      table.append(row);
    }
    return results.map((r) => ({
      ...r,
      forward: [...r.forward],
      gradients: r.gradients.map((g) => [...g]),
    }));
  } finally {
    $<HTMLButtonElement>("selfcheck").disabled = false;
  }
}

// ---- start-up ----

function readyText(): string {
  return audio ? "Listening." : "Ready. Press “Start listening” and speak.";
}

async function main(): Promise<void> {
  for (const legend of document.querySelectorAll<HTMLElement>(".legend-bar")) {
    legend.style.background = colourGradientCss();
  }
  $("start").addEventListener("click", start);
  $("pause").addEventListener("click", toggleLearning);
  $("hear-recon").addEventListener("click", () => hear("reconstruction"));
  $("hear-orig").addEventListener("click", () => hear("original"));
  $("hear-prior").addEventListener("click", () => hear("prior"));
  $("download").addEventListener("click", download);
  $("selfcheck").addEventListener("click", runSelfCheck);
  const input = $<HTMLInputElement>("file");
  input.addEventListener("change", () => input.files?.[0] && loadFile(input.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer?.files[0];
    if (file) loadFile(file);
  });

  setStatus("Starting the GPU…");
  let adapter: AdapterSummary;
  try {
    adapter = await call({ type: "init" });
  } catch (e) {
    onFailure(e as Failure);
    $("gpu").textContent = "GPU: none available (see the message above).";
    setStatus("Cannot run here: no WebGPU.");
    input.disabled = true;
    return;
  }
  hooks.adapter = adapter;
  const name = adapter.description || [adapter.vendor, adapter.architecture].filter(Boolean)
    .join(" ") ||
    "an unnamed adapter";
  $("gpu").textContent = `GPU: ${name}${
    adapter.vendor && adapter.description ? ` (${adapter.vendor}, ${adapter.architecture})` : ""
  }${adapter.isFallbackAdapter ? ", a software fallback adapter: slow but real" : ""}.`;
  $<HTMLButtonElement>("selfcheck").disabled = false;

  setStatus("Loading the base model…");
  const res = await fetch("base.safetensors");
  let loaded = false;
  if (res.ok) {
    loaded = await loadModel("base.safetensors", await res.arrayBuffer(), "from the server");
  } else {
    $("model-status").textContent = "The server has no base model. Choose or drop a checkpoint " +
      "file below (for example out/run/checkpoint.safetensors, made by `deno task train`).";
  }
  $<HTMLButtonElement>("download").disabled = false;
  hooks.readyMs = performance.now();
  setStatus(loaded ? readyText() : "Waiting for a model file.");
}

main();
