/**
 * The browser page's numbers, measured the way a person meets them, beside the same loop in
 * Deno: the bundle's size (raw and gzip), the time from navigation to ready (base model loaded,
 * GPU up), and live adaptation with a real speaker (VCTK p225, ../shared) as the microphone —
 * adaptation steps per second of GPU time, real-time factor and GPU busy share in headless
 * Chromium (WebGPU on SwiftShader), and steps per second of the same loop (web/live.ts), model
 * and settings in Deno on its adapter (lavapipe here). Two model sizes: the tests' tiny one (48
 * channels) and the default (256 channels); weights are random (speed does not depend on them).
 *
 * Run: deno task bench:web [--seconds 40]
 * @module
 */
import * as nodePath from "node:path";
import * as ag from "../engine/mod.ts";
import { loadAudio } from "../audio/decode.ts";
import { DEFAULT_MODEL, type ModelConfig } from "../vae/config.ts";
import { saveCheckpoint } from "../vae/checkpoint.ts";
import { MelVae } from "../vae/model.ts";
import {
  LiveAdaptation,
  liveConfig,
  type LiveStats,
  PRIOR_REPLAY,
  priorReplay,
  SerialQueue,
} from "../web/live.ts";
import {
  ARTIFACTS,
  buildCommand,
  chromiumMissing,
  fakeMicFlags,
  launch,
  micRecording,
  startServer,
  waitForStartup,
  WEBGPU_FLAGS,
} from "../tests/web/browser.ts";
import { parseFlags } from "../cli/args.ts";

const flags = parseFlags(Deno.args, { seconds: { type: "string", default: "40" } });
const LISTEN_SECONDS = Number(flags.seconds);
const missing = await chromiumMissing();
if (missing) {
  console.error(missing);
  Deno.exit(1);
}
await ag.init();
const denoAdapter = await ag.adapterReport();

// ---- the bundle ----
const dist = nodePath.join(ARTIFACTS, "bench-dist");
const [cmd, ...args] = await buildCommand(dist);
const built = await new Deno.Command(cmd, { args, stdout: "piped" }).output();
if (!built.success) throw new Error("build:web failed");
console.log(new TextDecoder().decode(built.stdout).trim());

const mic = await micRecording();
const rows: string[] = [];

async function inPage(checkpoint: string) {
  const server = startServer(dist, checkpoint);
  const browser = await launch([...WEBGPU_FLAGS, ...fakeMicFlags(mic.path)]);
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await waitForStartup(page);
    const hooks = () =>
      page.evaluate(() => {
        const g = (globalThis as unknown as {
          audioGen: { readyMs: number; stats: LiveStats | null; adapter: unknown };
        }).audioGen;
        return { readyMs: g.readyMs, stats: g.stats, adapter: g.adapter };
      });
    const { readyMs, adapter } = await hooks();
    await page.click("#start");
    await new Promise((r) => setTimeout(r, LISTEN_SECONDS * 1000));
    const { stats } = await hooks();
    return { readyMs, adapter, stats: stats! };
  } finally {
    await browser.close();
    await server.close();
  }
}

async function inDeno(config: ModelConfig, steps: number): Promise<LiveStats> {
  const model = new MelVae(config, 1), base = new MelVae(config, 1);
  const replay = await priorReplay(base, PRIOR_REPLAY.clips, PRIOR_REPLAY.seconds);
  const live = new LiveAdaptation(model, base, replay, 48000, liveConfig(), new SerialQueue(), {
    onStatus() {},
    onFrames() {},
    onError(e) {
      throw e;
    },
  });
  const audio = (await loadAudio(mic.path)).samples;
  for (let i = 0; i < audio.length; i += 2048) live.push(audio.subarray(i, i + 2048));
  const running = live.run();
  while (live.adapter.step < steps) await new Promise((r) => setTimeout(r, 200));
  live.stop();
  await running;
  const s = live.stats();
  live.dispose();
  model.dispose();
  base.dispose();
  return s;
}

for (const channels of [48, 256]) {
  const config: ModelConfig = { ...DEFAULT_MODEL, channels, latentDim: channels === 48 ? 8 : 32 };
  const model = new MelVae(config, 1);
  const path = nodePath.join(ARTIFACTS, `bench-${channels}.safetensors`);
  await saveCheckpoint(path, model);
  model.dispose();
  const page = await inPage(path);
  const deno = await inDeno(config, Math.max(20, page.stats.steps));
  const mb = ((await Deno.stat(path)).size / 1e6).toFixed(1);
  rows.push(
    `| ${channels} ch (${mb} MB) | ${page.readyMs.toFixed(0)} ms | ${page.stats.steps} | ` +
      `${page.stats.stepsPerSecond.toFixed(2)} | ${page.stats.realTimeFactor.toFixed(2)} | ` +
      `${(100 * page.stats.gpuBusy).toFixed(0)} % | ${deno.stepsPerSecond.toFixed(2)} |`,
  );
  console.log(`page adapter ${JSON.stringify(page.adapter)}; ${JSON.stringify(page.stats)}`);
}

console.log(
  `\nlive adaptation, default settings (batch 4 + 4 replay, 48-frame crops, 4 steps per voiced ` +
    `second), ${LISTEN_SECONDS} s of VCTK p225 as the microphone; Deno adapter: ` +
    `${denoAdapter.description || denoAdapter.vendor} (${denoAdapter.backend})\n`,
);
console.log(
  "| model | load → ready | steps | page steps/s (GPU time) | page RTF | page GPU busy | Deno steps/s |",
);
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
