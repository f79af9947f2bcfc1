/**
 * `deno task listen` end to end through the real ALSA capture code, with no hardware: the test
 * writes an ALSA configuration (a temporary HOME/.asoundrc) whose `fakemic` is a `type file`
 * PCM over the `null` plugin with `infile` set to a raw S16_LE recording, so ALSA plays that
 * recording as a microphone through the same snd_pcm_readi path. `brokenmic` does the same but
 * pipes the file plugin's copy into `head -c`, which exits after a few seconds: the next write
 * fails and snd_pcm_readi returns -EIO, a device error mid-stream.
 *
 * Voices: the bundled sample's espeak-ng speakers (real voices with several clips per speaker
 * are not in ../shared/data/speech). The base model is pretrained on speakers 1–4; listen
 * adapts it to 6 clips of speaker 6; the check uses speaker 6's other 4 clips and speakers 5
 * (never trained on) and 1–4.
 * @module
 */
import * as nodePath from "node:path";
import assert from "node:assert/strict";

const assertEquals = (a: unknown, b: unknown, msg?: string) => assert.equal(a, b, msg);
const assertStringIncludes = (s: string, part: string) =>
  assert.ok(s.includes(part), `expected ${JSON.stringify(part)} in:\n${s}`);
import { resample } from "../../audio/resample.ts";
import { Capture, RawS16Source } from "../../audio/capture.ts";
import { encodeWav } from "../../audio/wav.ts";
import { AdamW } from "../../engine/mod.ts";
import { fileSha256, loadCheckpoint, loadModel, saveCheckpoint } from "../../vae/checkpoint.ts";
import { reconstructionMse } from "../../vae/trainer.ts";
import { assertSpeechLikeWav } from "./speech_checks.ts";
import { ADAPT_SPEAKERS, devClipsOfList, speakerClips, splitHeard } from "../../cli/eval_adapt.ts";
import { scoreClips, summarize } from "../../vae/waveform_eval.ts";
import {
  clipAudio,
  clipsFeatures,
  initEngine,
  pretrainedCheckpoint,
  SAMPLE_DIR,
  splitClips,
  toS16,
} from "../vae/adapt_fixture.ts";

const ROOT = nodePath.resolve(nodePath.dirname(new URL(import.meta.url).pathname), "../..");
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
/** Whether libasound loads here (probed in a child: this test may not read /usr). */
const HAVE_ALSA = (await new Deno.Command("deno", {
  args: ["eval", "import { openAlsaLibrary } from './audio/alsa.ts'; openAlsaLibrary();"],
  cwd: ROOT,
  stdout: "null",
  stderr: "null",
}).output()).success;
if (!HAVE_ALSA) {
  console.error("listen_test: skipped (libasound.so.2 does not load on this machine)");
}

/** Exactly the permissions of the `listen` task, except writes go to the temp dir. */
function listenCmd(args: string[], env: Record<string, string>, tmp: string): Deno.Command {
  return new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read",
      `--allow-write=${tmp}`,
      "--allow-env=AUDIO_GEN_NO_GPU",
      "--allow-ffi=/usr/lib,/usr/lib64,/lib,/lib64,/usr/local/lib",
      "cli/listen.ts",
      ...args,
    ],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp/xdg", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(cmd: Deno.Command, stdin?: Uint8Array) {
  const child = cmd.spawn();
  const w = child.stdin.getWriter();
  if (stdin) await w.write(stdin).catch(() => {});
  await w.close().catch(() => {});
  const out = await child.output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

/** Speaker 6's first clips joined by 0.4 s of faint noise, at `rate`. */
async function speakerRecording(names: string[], rate: number): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  let seed = 12345;
  const noise = (n: number) =>
    Float32Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed / 2 ** 32 - 0.5) * 0.002;
    });
  for (const n of names) parts.push(noise(6400), await clipAudio(n));
  parts.push(noise(6400));
  const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) all.set(p, o), o += p.length;
  return rate === 16000 ? all : resample(all, 16000, rate);
}

Deno.test({
  name: "listen adapts to a voice played by an ALSA fake microphone, and fails cleanly",
  ignore: !HAVE_ALSA,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await initEngine();
    const { path: base, train } = await pretrainedCheckpoint();
    const tmp = await Deno.makeTempDir({ prefix: "listen-test-" });
    const test6 = await splitClips("test");
    const rec = await speakerRecording(test6.slice(0, 6), 48000);
    const raw = nodePath.join(tmp, "speaker6.s16");
    await Deno.writeFile(raw, toS16(rec));
    const pcm = (name: string, file: string) =>
      `pcm.${name} {\n  type file\n  slave.pcm "null"\n  file "${file}"\n  infile "${raw}"\n  format "raw"\n}\n`;
    await Deno.writeTextFile(
      nodePath.join(tmp, ".asoundrc"),
      pcm("fakemic", "/dev/null") + pcm("brokenmic", `|head -c ${48000 * 2 * 10} >/dev/null`),
    );
    const env = { HOME: tmp };
    const common = ["--checkpoint", base, "--replay", "audio/sample/en", "--quiet"];
    const seconds = rec.length / 48000 + 1;

    await t.step(
      "adapts: ≥10% better on the speaker's other clips, ≤5% worse on others",
      async () => {
        const out = nodePath.join(tmp, "adapted.safetensors");
        const r = await run(listenCmd(
          [...common, "--device", "fakemic", "--seconds", String(seconds), "--out", out],
          env,
          tmp,
        ));
        assertEquals(r.code, 0, r.stderr);
        assertStringIncludes(r.stdout, "overruns 0");
        console.log(r.stdout.trim());
        const same = await clipsFeatures(test6.slice(6));
        const other = [
          ...await clipsFeatures((await splitClips("dev")).slice(0, 4)),
          ...train.slice(0, 8),
        ];
        const { model: b } = await loadModel(base);
        const { model: a } = await loadModel(out);
        const [bs, as, bo, ao] = [
          await reconstructionMse(b, same),
          await reconstructionMse(a, same),
          await reconstructionMse(b, other),
          await reconstructionMse(a, other),
        ];
        console.log(
          `speaker 6 held-out clips: ${bs.toFixed(4)} → ${as.toFixed(4)} (${
            ((as / bs - 1) * 100).toFixed(1)
          }%); ` +
            `other speakers: ${bo.toFixed(4)} → ${ao.toFixed(4)} (${
              ((ao / bo - 1) * 100).toFixed(1)
            }%)`,
        );
        assert(as <= 0.9 * bs, `same speaker: ${as} vs base ${bs}`);
        assert(ao <= 1.05 * bo, `other speakers: ${ao} vs base ${bo}`);
        a.dispose();
        b.dispose();
      },
    );

    await t.step("raw S16_LE on stdin feeds the same pipeline", async () => {
      const out = nodePath.join(tmp, "stdin.safetensors");
      const r = await run(
        listenCmd([...common, "--input", "-", "--rate", "48000", "--out", out], env, tmp),
        toS16(rec.subarray(0, 48000 * 5)),
      );
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stdout, "heard 5.0 s");
      await loadModel(out);
    });

    await t.step("a missing device exits 4 naming it", async () => {
      const out = nodePath.join(tmp, "unused.safetensors"); // writable: the device is what fails
      const r = await run(listenCmd([...common, "--device", "nosuchmic", "--out", out], env, tmp));
      assertEquals(r.code, 4, r.stderr);
      assertStringIncludes(r.stderr, `"nosuchmic"`);
      assertStringIncludes(r.stderr, "arecord -L");
    });

    await t.step("a missing library exits 4 naming it and the alternatives", async () => {
      const r = await run(
        listenCmd(
          [...common, "--alsa-lib", "libasound-missing.so.2", "--out", `${tmp}/unused.safetensors`],
          env,
          tmp,
        ),
      );
      assertEquals(r.code, 4, r.stderr);
      assertStringIncludes(r.stderr, "libasound-missing.so.2");
      assertStringIncludes(r.stderr, "--input");
    });

    await t.step("a device failing mid-stream exits 5 with the adapted model saved", async () => {
      const out = nodePath.join(tmp, "broken.safetensors");
      const r = await run(listenCmd(
        [...common, "--device", "brokenmic", "--seconds", String(seconds), "--out", out],
        env,
        tmp,
      ));
      assertEquals(r.code, 5, r.stderr);
      assertStringIncludes(r.stderr, `"brokenmic"`);
      assertStringIncludes(r.stderr, "Input/output error");
      assertStringIncludes(r.stderr, "saved");
      const { model } = await loadModel(out);
      model.dispose();
    });
  },
});

Deno.test("Capture.stop() returns while a raw S16 pipe is open but quiet", async () => {
  let cancelled = false;
  const quiet = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array([0, 64, 0, 192, 7])); // 0.5, -0.5 and an odd byte
    },
    cancel() {
      cancelled = true;
    },
  });
  const capture = new Capture(new RawS16Source("pipe", 16000, quiet), 16000);
  await capture.wait(1000);
  assert.deepEqual([...capture.take()], [0.5, -0.5]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = await Promise.race([
    capture.stop().then(() => true),
    new Promise<false>((r) => timer = setTimeout(() => r(false), 2000)),
  ]);
  clearTimeout(timer);
  assert.ok(stopped, "stop() still waits on the quiet pipe after 2 s");
  assert.ok(cancelled, "the pipe was not cancelled");
  assert.ok(capture.done);
});

/** Reads a child's stream as text in the background; `until` waits for a pattern. */
function textTap(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const waiter: { wake: (() => void) | null } = { wake: null };
  const done = (async () => {
    const dec = new TextDecoder();
    for await (const b of stream) {
      text += dec.decode(b, { stream: true });
      waiter.wake?.();
    }
    text += dec.decode();
    waiter.wake?.();
  })();
  return {
    get text() {
      return text;
    },
    done,
    /** The first match of `re` (global) accepted by `ok`, or null after `timeoutMs`. */
    async until(re: RegExp, ok: (m: RegExpExecArray) => boolean, timeoutMs: number) {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        for (const m of text.matchAll(re)) if (ok(m)) return m;
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(200, deadline - performance.now()));
          waiter.wake = () => (clearTimeout(t), r());
        });
        waiter.wake = null;
      }
      return null;
    },
  };
}

/** The child's status, or null (and the child killed) after `timeoutMs`. */
async function statusWithin(child: Deno.ChildProcess, timeoutMs: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), timeoutMs));
  const s = await Promise.race([child.status, timeout]);
  clearTimeout(timer);
  if (s === null) {
    child.kill("SIGKILL");
    await child.status;
  }
  return s;
}

/** `listen`'s final line: heard H s (V s voiced), N steps, held-out loss B → A (…%), … */
function parseSummary(stdout: string) {
  const m =
    /heard ([\d.]+) s \(([\d.]+) s voiced\), (\d+) steps, held-out loss ([\d.]+) → ([\d.]+) \(([-\d.]+)%\), overruns (\d+), RTF ([\d.]+) → saved (.+?)( \(\d+ steps, [\d.]+ s voiced in all\))?$/m
      .exec(stdout);
  assert.ok(m, `no summary line in:\n${stdout}`);
  return {
    heard: Number(m[1]),
    voiced: Number(m[2]),
    steps: Number(m[3]),
    base: Number(m[4]),
    now: Number(m[5]),
    overruns: Number(m[7]),
    rtf: Number(m[8]),
    saved: m[9].trim(),
  };
}

/**
 * The adapted checkpoint: a valid audio-gen checkpoint with the base's model tensors and replay,
 * the decoder's moved away from the base (it was trained), the frozen encoder's unchanged.
 */
async function assertAdaptedFrom(path: string, basePath: string): Promise<void> {
  const [a, b] = [await loadCheckpoint(path), await loadCheckpoint(basePath)];
  assertEquals(JSON.stringify(a.model), JSON.stringify(b.model));
  // The base's own training speech travels with it, so the adapted model can be adapted again.
  assert.ok(b.replay?.length, "the test's base carries replay");
  assert.deepEqual(a.replay?.map((c) => c.name), b.replay.map((c) => c.name));
  // The model's tensors are the base's; the adapter's optimizer moments come with them.
  const models = (c: typeof a) => [...c.tensors.keys()].filter((n) => n.startsWith("model."));
  assert.deepEqual(models(a).sort(), models(b).sort());
  let moved = 0, decoder = 0;
  for (const [name, t] of b.tensors) {
    if (!name.startsWith("model.")) continue;
    const u = a.tensors.get(name)!;
    assert.deepEqual(u.shape, t.shape, name);
    assert.ok(u.data.every(Number.isFinite), `${name}: non-finite weights`);
    const same = u.data.every((v, i) => v === t.data[i]);
    if (name.startsWith("model.decoder.")) {
      decoder++;
      if (!same) moved++;
    } else if (name.startsWith("model.encoder.")) {
      assert.ok(same, `${name}: the frozen encoder changed`);
    }
  }
  assert.ok(decoder > 0 && moved >= decoder / 2, `${moved} of ${decoder} decoder tensors moved`);
}

/** No `NAME.PID.tmp` left beside the saved files. */
async function assertNoTempFiles(dir: string): Promise<void> {
  const left = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
    .filter((n) => n.endsWith(".tmp"));
  assertEquals(left.length, 0, `temp files left: ${left}`);
}

Deno.test({
  name: "listen without a device: --input file.wav, SIGINT/SIGTERM save, speaking back",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await initEngine();
    const { path: base } = await pretrainedCheckpoint();
    const tmp = await Deno.makeTempDir({ prefix: "listen-input-test-" });
    const test6 = await splitClips("test");
    const common = ["--checkpoint", base, "--replay", "audio/sample/en"];
    const { model: baseModel } = await loadModel(base);
    const { hop, sampleRate } = baseModel.config.features;
    const hopFactor = baseModel.hopFactor;
    let adapted: string | null = null;

    await t.step("--input file.wav adapts, saves and reports sane numbers", async () => {
      const rec = await speakerRecording(test6.slice(0, 6), 48000);
      const wav = nodePath.join(tmp, "speaker6.wav");
      await Deno.writeFile(wav, encodeWav(rec, 48000));
      const out = nodePath.join(tmp, "wav", "adapted.safetensors");
      const r = await run(listenCmd([...common, "--input", wav, "--out", out], {}, tmp));
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stderr, `listening on ${wav} at 48000 Hz → 16000 Hz`);
      const s = parseSummary(r.stdout);
      console.log(r.stdout.trim());
      const seconds = rec.length / 48000;
      assert.ok(Math.abs(s.heard - seconds) <= 0.1, `heard ${s.heard} s of ${seconds} s`);
      assert.ok(s.voiced > 3 && s.voiced < s.heard, `voiced ${s.voiced} of ${s.heard} s`);
      // 4 steps per second of the training pool: voiced seconds less the 3 s held out.
      assert.ok(
        s.steps >= 4 * (s.voiced - 5) && s.steps <= 4.1 * s.voiced,
        `${s.steps} steps for ${s.voiced} s voiced`,
      );
      assert.ok(s.base > 0 && s.now > 0, `held-out ${s.base} → ${s.now}`);
      assert.ok(s.now < s.base, `held-out loss did not improve: ${s.base} → ${s.now}`);
      assertEquals(s.overruns, 0);
      assert.ok(s.rtf > 0, `RTF ${s.rtf}`);
      assertEquals(s.saved, out);
      await assertAdaptedFrom(out, base);
      await assertNoTempFiles(nodePath.dirname(out));
      // Same recording as the fake microphone's: the same ≥10% gain on the speaker's other clips.
      const same = await clipsFeatures(test6.slice(6));
      const { model: a } = await loadModel(out);
      const [bs, as] = [
        await reconstructionMse(baseModel, same),
        await reconstructionMse(a, same),
      ];
      a.dispose();
      assert.ok(as <= 0.9 * bs, `same speaker: ${as} vs base ${bs}`);
      adapted = out;
    });

    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      await t.step(
        `${signal} from a live stdin pipe saves the adapted model and exits 0`,
        async () => {
          const dir = nodePath.join(tmp, signal);
          const out = nodePath.join(dir, "adapted.safetensors");
          const child = listenCmd(
            [...common, "--input", "-", "--rate", "16000", "--save-every", "3600", "--out", out],
            {},
            tmp,
          ).spawn();
          const stdout = textTap(child.stdout);
          const stderr = textTap(child.stderr);
          const w = child.stdin.getWriter();
          try {
            // ~10 s of speaker 6 in 0.5 s pieces, then the pipe stays open and silent.
            const pcm = toS16(await speakerRecording(test6.slice(0, 4), 16000));
            for (let i = 0; i < pcm.length; i += 16000) await w.write(pcm.subarray(i, i + 16000));
            // Status lines (every 5 s without a terminal) show adaptation steps being taken.
            const m = await stderr.until(/steps (\d+)/g, (m) => Number(m[1]) > 0, 30000);
            assert.ok(m, `no adaptation steps reported:\n${stderr.text}`);
            assert.ok(!await exists(out), "saved before the signal (--save-every 3600)");
            child.kill(signal);
            const status = await statusWithin(child, 20000);
            assert.ok(status, `still running 20 s after ${signal}:\n${stderr.text}`);
            await Promise.all([stdout.done, stderr.done]);
            assertEquals(status.code, 0, stderr.text);
            const s = parseSummary(stdout.text);
            assert.ok(s.steps >= Number(m[1]), `${s.steps} steps, ${m[1]} reported before`);
            assertEquals(s.saved, out);
            await assertAdaptedFrom(out, base);
            await assertNoTempFiles(dir);
            (await loadModel(out)).model.dispose();
          } finally {
            await w.close().catch(() => {});
            try {
              child.kill("SIGKILL");
            } catch { /* already exited */ }
            await child.status;
          }
        },
      );
    }

    /** generate with exactly its task's permissions, except writes go to /tmp. */
    const generate = async (args: string[]) => {
      const r = await run(
        new Deno.Command("deno", {
          args: [
            "run",
            "--allow-read",
            "--allow-write=/tmp",
            "--allow-env=AUDIO_GEN_NO_GPU",
            "cli/generate.ts",
            ...args,
          ],
          cwd: ROOT,
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }),
      );
      assertEquals(r.code, 0, r.stderr);
      return r;
    };

    await t.step("speaks back: a prior sample from the adapted model", async () => {
      assert.ok(adapted, "no adapted checkpoint (the --input file.wav step failed)");
      const out = nodePath.join(tmp, "prior.wav");
      const r = await generate(["--checkpoint", adapted, "--seconds", "1.5", "--out", out]);
      assertStringIncludes(r.stdout, "prior sample");
      // 1.5 s → ⌈1.5·16000 / hop / hopFactor⌉ latent steps, × hopFactor frames, (frames−1)·hop.
      const frames = Math.ceil((1.5 * sampleRate) / hop / hopFactor) * hopFactor;
      assertSpeechLikeWav(await Deno.readFile(out), (frames - 1) * hop, "prior sample");
    });

    await t.step("speaks back: the speaker's unseen clip through the adapted model", async () => {
      assert.ok(adapted, "no adapted checkpoint (the --input file.wav step failed)");
      const clip = nodePath.join(SAMPLE_DIR, "clips", test6[6]);
      const out = nodePath.join(tmp, "recon.wav");
      const r = await generate(["--checkpoint", adapted, "--input", clip, "--out", out]);
      assertStringIncludes(r.stdout, "reconstruction of");
      const input = await clipAudio(test6[6]);
      const frames = Math.floor((1 + Math.floor(input.length / hop)) / hopFactor) * hopFactor;
      assertSpeechLikeWav(await Deno.readFile(out), (frames - 1) * hop, "reconstruction", input);
    });

    // Issue 13 item 1: a later session continues the adapted model, one that hears nothing
    // leaves it byte for byte, and one for another base does not touch it.
    const sha = async (path: string) => await fileSha256(path);
    const faint = Float32Array.from({ length: 4 * 16000 }, (_, i) => 0.002 * Math.sin(i * 1.7));
    const silence = nodePath.join(tmp, "silence.wav");
    await Deno.writeFile(silence, encodeWav(faint, 16000));

    await t.step(
      "a session that hears no voice leaves the adapted model byte-identical",
      async () => {
        assert.ok(adapted, "no adapted checkpoint (the --input file.wav step failed)");
        const before = await sha(adapted);
        const r = await run(listenCmd([...common, "--input", silence, "--out", adapted], {}, tmp));
        assertEquals(r.code, 0, r.stderr);
        assertStringIncludes(r.stderr, `continuing ${adapted}`);
        assertStringIncludes(r.stdout, `0 steps`);
        assertStringIncludes(r.stdout, `nothing learned, ${adapted} left as it was`);
        assertEquals(await sha(adapted), before, "the adapted model was replaced");
        await assertNoTempFiles(nodePath.dirname(adapted));
      },
    );

    await t.step("a second session continues from the adapted model: steps add up", async () => {
      assert.ok(adapted, "no adapted checkpoint (the --input file.wav step failed)");
      const first = await loadCheckpoint(adapted);
      assert.ok(first.adaptation, "the adapted model records no adaptation");
      assertEquals(first.adaptation.baseSha256, await sha(base));
      assertEquals(first.adaptation.sessions, 1);
      const rec = await speakerRecording(test6.slice(2, 5), 16000);
      const wav = nodePath.join(tmp, "speaker6-more.wav");
      await Deno.writeFile(wav, encodeWav(rec, 16000));
      const r = await run(listenCmd([...common, "--input", wav, "--out", adapted], {}, tmp));
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(
        r.stderr,
        `continuing ${adapted} (${first.adaptation.steps} steps, ` +
          `${first.adaptation.voicedSeconds.toFixed(1)} s voiced so far)`,
      );
      const s = parseSummary(r.stdout);
      assert.ok(s.steps > 0, `no steps in the second session:\n${r.stdout}`);
      const second = await loadCheckpoint(adapted);
      assertEquals(second.adaptation!.steps, first.adaptation.steps + s.steps);
      assertEquals(second.adaptation!.sessions, 2);
      assert.ok(second.adaptation!.voicedSeconds > first.adaptation.voicedSeconds);
      assertStringIncludes(r.stdout, `(${second.adaptation!.steps} steps, `);
      // It went on from the first session's weights and optimizer moments, not from the base.
      for (const [name, n] of Object.entries(second.optimizer!.steps)) {
        const m = first.optimizer!.steps[name];
        assert.ok(n > m && n <= m + s.steps, `${name}: optimizer step ${m} → ${n}`);
      }
      await assertAdaptedFrom(adapted, base);
    });

    await t.step("an adapted model of another base is neither continued nor replaced", async () => {
      assert.ok(adapted, "no adapted checkpoint (the --input file.wav step failed)");
      const other = nodePath.join(tmp, "other-base.safetensors");
      const { model: m } = await loadModel(base);
      await saveCheckpoint(other, m, { optimizer: new AdamW(m.namedParameters()) });
      m.dispose();
      const before = await sha(adapted);
      const args = ["--checkpoint", other, "--replay", "audio/sample/en", "--input", silence];
      const r = await run(listenCmd([...args, "--out", adapted], {}, tmp));
      assertEquals(r.code, 64, r.stderr);
      assertStringIncludes(r.stderr, `${adapted} was adapted from another base model (${base}`);
      assertStringIncludes(r.stderr, "--fresh");
      // --fresh starts over, but a session that learns nothing still writes nothing.
      const f = await run(listenCmd([...args, "--fresh", "--out", adapted], {}, tmp));
      assertEquals(f.code, 0, f.stderr);
      assertStringIncludes(f.stdout, `nothing learned, ${adapted} not written`);
      assertEquals(await sha(adapted), before, "the adapted model was replaced");
    });

    baseModel.dispose();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  },
});

/** The real speech beside the repo (absent on a machine without ../shared). */
const REAL_SPEECH = nodePath.join(ROOT, "../shared/data/speech");
const SHIPPED_BASE = nodePath.join(ROOT, "models/base.safetensors");
/** Seconds of the real speaker that the fake microphone plays. */
const REAL_HEARD_SECONDS = 24;
/** Bounds on mel-LSD adapted ÷ base: the speaker's unheard clips, and other voices. */
const REAL_VOICE_GAIN = 0.98;
const REAL_VOICE_FORGETTING = 1.03;
const HAVE_REAL_VOICE = await exists(nodePath.join(REAL_SPEECH, "vctk-autovc/wavs/p225"));
if (!HAVE_REAL_VOICE) {
  console.error("listen_test: the real-voice test is skipped (no ../shared/data/speech here)");
}

Deno.test({
  name: "listen adapts the shipped base model to a real voice (VCTK p225) played by an ALSA fake " +
    "microphone: its unheard clips improve, other voices stay",
  ignore: !HAVE_ALSA || !HAVE_REAL_VOICE,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await initEngine();
    const { model: base } = await loadModel(SHIPPED_BASE);
    const features = base.config.features;
    const rate = features.sampleRate;
    const p225 = ADAPT_SPEAKERS.find((s) => s.name.startsWith("VCTK p225"))!;
    const clips = await speakerClips(REAL_SPEECH, p225, rate);
    const { heard, heldOut } = splitHeard(clips, rate, REAL_HEARD_SECONDS);
    const others = await devClipsOfList(nodePath.join(ROOT, "models/base.corpus.tsv"), rate, 4);
    // The heard clips as one 48 kHz recording with short pauses, as the microphone plays it.
    const pause = new Float32Array(rate / 2);
    const parts = heard.flatMap((c) => [pause, c.samples]);
    const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0) + pause.length);
    parts.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
    const rec = resample(joined, rate, 48000);
    const tmp = await Deno.makeTempDir({ prefix: "listen-real-voice-" });
    const raw = nodePath.join(tmp, "p225.s16");
    await Deno.writeFile(raw, toS16(rec));
    await Deno.writeTextFile(
      nodePath.join(tmp, ".asoundrc"),
      `pcm.fakemic {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n  infile "${raw}"\n  format "raw"\n}\n`,
    );
    const out = nodePath.join(tmp, "adapted.safetensors");
    // No --checkpoint and no --replay: the shipped base and the speech it carries.
    const seconds = String(Math.ceil(rec.length / 48000) + 1);
    const r = await run(listenCmd(
      ["--device", "fakemic", "--seconds", seconds, "--out", out, "--quiet"],
      { HOME: tmp },
      tmp,
    ));
    assertEquals(r.code, 0, r.stderr);
    console.log(r.stdout.trim());
    const { model: adapted } = await loadModel(out);
    const melLsd = async (m: typeof base, c: typeof clips) =>
      summarize(await scoreClips(m, c, features, null)).featureMelLsd;
    const unheard = heldOut.slice(0, 4);
    const [bs, as, bo, ao] = [
      await melLsd(base, unheard),
      await melLsd(adapted, unheard),
      await melLsd(base, others),
      await melLsd(adapted, others),
    ];
    const pct = (a: number, b: number) => `${((b / a - 1) * 100).toFixed(1)} %`;
    console.log(
      `p225's unheard clips, mel-LSD ${bs.toFixed(2)} → ${as.toFixed(2)} dB (${pct(bs, as)}); ` +
        `other voices ${bo.toFixed(2)} → ${ao.toFixed(2)} dB (${pct(bo, ao)})`,
    );
    assert.ok(as <= REAL_VOICE_GAIN * bs, `p225 unheard: ${as} vs base ${bs}`);
    assert.ok(ao <= REAL_VOICE_FORGETTING * bo, `other voices: ${ao} vs base ${bo}`);
    adapted.dispose();
    base.dispose();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  },
});
