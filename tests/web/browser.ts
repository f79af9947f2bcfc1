/**
 * Shared fixture of the browser tests: the page built once per process with the `build:web`
 * task's own command and permissions (into a temp folder), a server for it on 127.0.0.1, a
 * headless Debian Chromium driven by puppeteer-core (never a downloaded browser), and a real
 * speaker's recording from ../shared as the fake microphone. Artifacts go to
 * {@link ARTIFACTS} (/tmp/audio-gen-web): the screenshot after adaptation, downloads.
 * @module
 */
import * as nodePath from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { loadAudio } from "../../audio/decode.ts";
import { resample } from "../../audio/resample.ts";
import { concatSamples } from "../../audio/samples.ts";
import { encodeWav } from "../../audio/wav.ts";
import { serveHandler } from "../../cli/serve.ts";

export const ROOT = nodePath.resolve(nodePath.dirname(new URL(import.meta.url).pathname), "../..");

/** Where the browser tests leave what a person may want to look at. */
export const ARTIFACTS = "/tmp/audio-gen-web";

/** Debian's chromium (`.ci/run` installs it); AUDIO_GEN_CHROMIUM overrides. */
export const CHROMIUM = Deno.env.get("AUDIO_GEN_CHROMIUM") ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or null when they can. */
export async function chromiumMissing(): Promise<string | null> {
  try {
    if ((await Deno.stat(CHROMIUM)).isFile) return null;
  } catch { /* not there */ }
  return `browser tests skipped: ${CHROMIUM} is not installed (apt-get install -y chromium; ` +
    "set AUDIO_GEN_CHROMIUM to use another Chromium)";
}

/** The `build:web` task's command from deno.json, writing to `outDir` instead of web/dist. */
export async function buildCommand(outDir: string): Promise<string[]> {
  const tasks = JSON.parse(await Deno.readTextFile(nodePath.join(ROOT, "deno.json"))).tasks;
  const words = String(tasks["build:web"]).split(/\s+/);
  if (!words.includes("--allow-write=web/dist") || !words.includes("--allow-read=.")) {
    throw new Error(`build:web task no longer reads . and writes web/dist: ${tasks["build:web"]}`);
  }
  const swap: Record<string, string> = {
    "--allow-write=web/dist": `--allow-write=${outDir}`,
    "--allow-read=.": `--allow-read=.,${outDir}`,
  };
  return [
    ...words.map((w) => swap[w] ?? w),
    "--out",
    outDir,
  ];
}

let built: Promise<string> | null = null;

/** Builds the page once per process (the task's exact flags); returns the dist folder. */
export function buildPage(): Promise<string> {
  built ??= (async () => {
    const dist = nodePath.join(ARTIFACTS, "dist");
    const [cmd, ...args] = await buildCommand(dist);
    const out = await new Deno.Command(cmd, { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!out.success) throw new Error(`build:web failed:\n${text}`);
    return dist;
  })();
  return built;
}

/**
 * A server of the built page (and `checkpoint` as /base.safetensors, `vocoder` as
 * /vocoder.safetensors) on a free port.
 */
export function startServer(dist: string, checkpoint: string | null, vocoder?: string) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    serveHandler({ dist, checkpoint, vocoder }),
  );
  return { url: `http://127.0.0.1:${server.addr.port}/`, close: () => server.shutdown() };
}

/** Chromium flags of the tests: headless, no sandbox (CI runs as root), SwiftShader WebGPU. */
export const WEBGPU_FLAGS = ["--enable-unsafe-webgpu"];

/** Flags that make `wav` the microphone (Chromium's fake capture device plays it in a loop). */
export function fakeMicFlags(wav: string): string[] {
  return [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${wav}`,
  ];
}

/** Launches headless Chromium with `flags`. */
export function launch(flags: string[]): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", ...flags],
  });
}

/** Console errors and uncaught exceptions of a page, collected as they happen. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${(e as Error).message ?? e}`));
  return errors;
}

/** Waits until the page's start-up is over (`window.audioGen.readyMs` set, or a message shown). */
export async function waitForStartup(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const g = (globalThis as unknown as { audioGen?: { readyMs: number | null } }).audioGen;
      return g?.readyMs != null || !document.getElementById("message")!.hidden;
    },
    { timeout },
  );
}

/** The text of the page's message box ("" when hidden). */
export function messageText(page: Page): Promise<string> {
  return page.$eval("#message", (e) => ((e as HTMLElement).hidden ? "" : e.textContent ?? ""));
}

/** Waits until the message box says something containing `part`. */
export async function waitForMessage(page: Page, part: string, timeout = 30_000): Promise<string> {
  try {
    await page.waitForFunction(
      (p: string) => {
        const box = document.getElementById("message")!;
        return !box.hidden && (box.textContent ?? "").includes(p);
      },
      { timeout },
      part,
    );
  } catch (e) {
    const shown = await messageText(page).catch(() => "?");
    throw new Error(`no message containing "${part}" (the page shows: "${shown}"): ${e}`);
  }
  return await messageText(page);
}

/** VCTK speaker p225's clips used as the microphone (real speech, CC-BY-4.0, ../shared). */
export const MIC_CLIPS = [
  "p225_003.wav",
  "p225_008.wav",
  "p225_011.wav",
  "p225_016.wav",
  "p225_019.wav",
  "p225_020.wav",
  "p225_021.wav",
  "p225_022.wav",
];

/**
 * The microphone recording: {@link MIC_CLIPS} one after another, resampled to 48 kHz (a usual
 * device rate), as a 16-bit WAV under {@link ARTIFACTS}; returns its path and duration.
 */
export async function micRecording(): Promise<{ path: string; seconds: number }> {
  const dir = nodePath.join(ROOT, "../shared/data/speech/vctk-autovc/wavs/p225");
  const parts: Float32Array[] = [];
  for (const clip of MIC_CLIPS) {
    parts.push((await loadAudio(nodePath.join(dir, clip), { sampleRate: 16000 })).samples);
  }
  const samples = resample(concatSamples(parts), 16000, 48000);
  const path = nodePath.join(ARTIFACTS, "mic-p225.wav");
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await Deno.writeFile(path, encodeWav(samples, 48000));
  return { path, seconds: samples.length / 48000 };
}
