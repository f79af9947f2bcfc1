/**
 * The page's adaptation loop (web/live.ts) in Deno, without a browser: a real speaker's
 * recording at 48 kHz goes in as the AudioWorklet would deliver it, and the loop resamples,
 * detects voice, adapts, reports, draws, remembers the last utterance and keeps snapshots that
 * are the model's weights. Also the one-job-at-a-time queue and the prior replay.
 * @module
 */
import assert from "node:assert/strict";
import * as ag from "../../engine/mod.ts";
import { loadAudio } from "../../audio/decode.ts";
import { resample } from "../../audio/resample.ts";
import { DEFAULT_ADAPT } from "../../vae/adapt.ts";
import { decodeCheckpoint } from "../../vae/checkpoint_format.ts";
import { MelVae } from "../../vae/model.ts";
import {
  LiveAdaptation,
  type LiveConfig,
  type MelPair,
  priorReplay,
  SerialQueue,
} from "../../web/live.ts";
import { TINY_MODEL } from "../vae/adapt_fixture.ts";
import { ROOT } from "./browser.ts";

const CONFIG: LiveConfig = {
  adapt: { ...DEFAULT_ADAPT, batch: 2, replayBatch: 2, cropFrames: 32, heldOutSeconds: 2 },
  stepsPerSecond: 2,
  displayFrames: 32,
  snapshotSeconds: 1000,
  heldOutEverySeconds: 0.5,
  utteranceGapSeconds: 1,
  maxUtteranceSeconds: 6,
};

Deno.test("SerialQueue runs jobs one at a time, in order, and survives a failing one", async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  const job = (name: string, ms: number, fail = false) =>
    q.run(async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      if (fail) throw new Error(name);
      return name;
    });
  const results = await Promise.allSettled([job("a", 20), job("b", 1, true), job("c", 5)]);
  assert.deepEqual(log, ["a+", "a-", "b+", "b-", "c+", "c-"]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
});

Deno.test({
  name:
    "LiveAdaptation: 48 kHz speech in, voice found, steps taken, frames drawn, snapshot = weights",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await ag.init();
    const model = new MelVae(TINY_MODEL, 3);
    const base = new MelVae(TINY_MODEL, 3);
    const replay = await priorReplay(base, 2, 1.5);
    assert.equal(replay.length, 2);
    assert.ok(replay.every((c) => c.mel.length === c.frames * 80 && c.frames >= 90));
    assert.ok(replay.every((c) => c.mel.every(Number.isFinite)));

    // Two utterances of a real speaker, each followed by 1.2 s of silence (longer than any
    // pause inside a sentence): the second is the last utterance.
    const dir = `${ROOT}/../shared/data/speech/vctk-autovc/wavs/p226`;
    const first = (await loadAudio(`${dir}/p226_003.wav`, { sampleRate: 16000 })).samples;
    const second = (await loadAudio(`${dir}/p226_005.wav`, { sampleRate: 16000 })).samples;
    const gap = 19200;
    const speech16 = new Float32Array(first.length + second.length + 2 * gap);
    speech16.set(first);
    speech16.set(second, first.length + gap);
    const speech48 = resample(speech16, 16000, 48000);

    const frames: MelPair[] = [];
    const statuses: number[] = [];
    const errors: Error[] = [];
    const gpu = new SerialQueue();
    const live = new LiveAdaptation(model, base, replay, 48000, CONFIG, gpu, {
      onStatus: (s) => statuses.push(s.steps),
      onFrames: (p) => frames.push(p),
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < speech48.length; i += 2048) live.push(speech48.subarray(i, i + 2048));
    const running = live.run();
    const deadline = performance.now() + 120_000;
    const target = Math.floor(CONFIG.stepsPerSecond * 2); // ≥ 2 s of pool
    while (live.adapter.step < target && performance.now() < deadline && !errors.length) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const snapshot = live.takeSnapshot(); // queued while steps may still be queued
    live.stop();
    await running;
    const snap = await snapshot;
    assert.deepEqual(errors, []);

    const s = live.stats();
    const seconds = speech16.length / 16000;
    assert.ok(Math.abs(s.heardSeconds - seconds) < 0.2, `heard ${s.heardSeconds} of ${seconds} s`);
    assert.ok(s.voicedSeconds > 2 && s.voicedSeconds < s.heardSeconds - 0.5, `${s.voicedSeconds}`);
    assert.ok(s.steps >= target, `${s.steps} steps`);
    assert.ok(s.poolSeconds >= 2 && Math.abs(s.heldOutSeconds - 2) < 0.1, JSON.stringify(s));
    assert.ok(Number.isFinite(s.loss) && s.stepsPerSecond > 0);
    assert.ok(statuses.length > 0, "status reported");

    // All the audio arrived at once, as after a stall: only the newest 2 s are drawn.
    const chunks = Math.floor(speech16.length / (CONFIG.displayFrames * 256));
    const newest = Math.floor((2 * 16000) / (CONFIG.displayFrames * 256));
    assert.ok(
      frames.length >= newest && frames.length <= newest + 1 && frames.length < chunks,
      `${frames.length} spectrogram updates of ${chunks}`,
    );
    for (const f of frames) {
      assert.equal(f.frames, CONFIG.displayFrames);
      assert.equal(f.input.length, 32 * 80);
      assert.equal(f.reconstruction.length, 32 * 80);
      assert.ok(f.input.every(Number.isFinite) && f.reconstruction.every(Number.isFinite));
    }

    const utterance = live.lastUtterance()!;
    assert.ok(utterance, "the utterance that the silence ended is remembered");
    const n = utterance.length / 16000, whole = second.length / 16000;
    assert.ok(n > 0.5 * whole && n <= Math.min(whole, CONFIG.maxUtteranceSeconds), `${n} s`);

    // The snapshot is the adapted model: its decoder weights, bit for bit.
    const ckpt = decodeCheckpoint(snap.bytes, "snapshot");
    assert.equal(snap.step, live.adapter.step);
    const name = "decoder.layers.0.weight";
    const live0 = await model.namedParameters().get(name)!.toArray();
    assert.deepEqual(ckpt.tensors.get(`model.${name}`)!.data, live0);
    const base0 = await base.namedParameters().get(name)!.toArray();
    assert.notDeepEqual(live0, base0, "adapting changed the decoder");
    live.dispose();
    model.dispose();
    base.dispose();
  },
});
