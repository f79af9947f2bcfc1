/**
 * The live adaptation loop of `deno task listen`, without a device: 12 s of a sample-corpus
 * speaker (speaker 6, clips joined with short gaps) as raw S16_LE at 48 kHz go through the same
 * Capture (stream resampling to 16 kHz) → EnergyVad → VoiceAdapter path, with the tiny test
 * model and 4 adaptation steps per voiced second. Prints audio seconds processed per wall second
 * (goal ≥ 1.0: keeps up with a microphone) and overruns (goal 0).
 *
 * The input is fed as fast as it is taken, so the figure is processing throughput; a live
 * device delivers 1 s per s, and the loop keeps up when the figure is ≥ 1. ALSA overruns need
 * a live device (the bench task has no --allow-ffi); `listen` prints them in its status line.
 * Run: deno bench --allow-read=. --allow-env bench/adapt_bench.ts
 * @module
 */
import * as nodePath from "node:path";
import * as ag from "../engine/mod.ts";
import { Capture, RawS16Source } from "../audio/capture.ts";
import { loadAudio } from "../audio/decode.ts";
import { LogMel } from "../audio/features.ts";
import { resample } from "../audio/resample.ts";
import { EnergyVad } from "../audio/vad.ts";
import { DEFAULT_ADAPT, melClip, VoiceAdapter } from "../vae/adapt.ts";
import { DEFAULT_MODEL } from "../vae/config.ts";
import type { MelClip } from "../vae/data.ts";
import { MelVae } from "../vae/model.ts";

const DIR = "audio/sample/en";
const MODEL = { ...DEFAULT_MODEL, channels: 48, latentDim: 8 };
await ag.init();

const names = (await Deno.readTextFile(nodePath.join(DIR, "test.tsv"))).trim().split("\n")
  .slice(1).map((r) => r.split("\t")[1]);
const parts: Float32Array[] = [];
for (const n of names.slice(0, 5)) {
  parts.push(new Float32Array(4000));
  parts.push((await loadAudio(nodePath.join(DIR, "clips", n), { sampleRate: 16000 })).samples);
}
let len = parts.reduce((s, p) => s + p.length, 0);
const speech16 = new Float32Array(len);
len = 0;
for (const p of parts) speech16.set(p, len), len += p.length;
const speech48 = resample(speech16, 16000, 48000);
const bytes = new Uint8Array(speech48.length * 2);
const view = new DataView(bytes.buffer);
speech48.forEach((v, i) => view.setInt16(2 * i, Math.round(v * 32767), true));

const logMel = new LogMel(MODEL.features);
const replay: MelClip[] = [];
const trainNames = (await Deno.readTextFile(nodePath.join(DIR, "train.tsv"))).trim().split("\n")
  .slice(1).map((r) => r.split("\t")[1]);
for (const n of trainNames.slice(0, 8)) {
  const a = await loadAudio(nodePath.join(DIR, "clips", n), { sampleRate: 16000 });
  replay.push(await melClip(logMel, a.samples, n));
}
logMel.dispose();

/** One pass of the loop; returns [audio seconds, wall seconds, steps, overruns]. */
async function loop(): Promise<[number, number, number, number]> {
  const model = new MelVae(MODEL, 1), base = new MelVae(MODEL, 1);
  const adapter = new VoiceAdapter(model, base, replay, DEFAULT_ADAPT);
  const vad = new EnergyVad(16000);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 9600) c.enqueue(bytes.slice(i, i + 9600));
      c.close();
    },
  });
  const capture = new Capture(new RawS16Source("bench", 48000, stream), 16000);
  const t0 = performance.now();
  while (true) {
    const x = capture.take();
    if (x.length) await adapter.addVoiced(vad.push(x));
    if (adapter.ready && adapter.step < Math.floor(4 * adapter.seconds.pool)) {
      await adapter.adaptStep();
    } else if (capture.done) break;
    else await capture.wait(200);
  }
  await adapter.heldOutLoss();
  const wall = (performance.now() - t0) / 1000;
  await capture.stop();
  const out: [number, number, number, number] = [
    vad.seconds.heard,
    wall,
    adapter.step,
    capture.stats.overruns,
  ];
  adapter.dispose();
  model.dispose();
  base.dispose();
  return out;
}

let printed = false;
Deno.bench({
  name: "listen adaptation loop (12 s of speech, 48 kHz → 16 kHz, tiny model)",
  n: 2,
  warmup: 1,
  async fn() {
    const [audio, wall, steps, overruns] = await loop();
    if (!printed) {
      printed = true;
      console.log(
        `adapt loop: ${audio.toFixed(1)} s audio in ${wall.toFixed(1)} s → ` +
          `${(audio / wall).toFixed(2)} audio s per wall s (goal ≥ 1.0), ${steps} steps, ` +
          `overruns ${overruns} (goal 0)`,
      );
    }
  },
});
