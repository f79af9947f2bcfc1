/**
 * `deno task generate` and `deno task eval` as subprocesses, on the tiny model pretrained on the
 * sample's speakers 1–4 (tests/vae/adapt_fixture.ts): prior samples and reconstructions come out
 * as WAVs of the asked length that are speech-like (level, no clipping, energy in the speech
 * band, syllabic level changes; a reconstruction follows its input's level contour and
 * long-term spectrum); eval's reconstruction NLL and mel-LSD equal float64 references computed
 * here from the model's reconstructions, and its KL agrees with its per-dimension KL; bad input
 * is refused with a message naming the file.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { loadAudio } from "../../audio/decode.ts";
import { concatSamples } from "../../audio/samples.ts";
import { encodeWav } from "../../audio/wav.ts";
import { loadCache } from "../../audio/feature_cache.ts";
import { loadModel } from "../../vae/checkpoint.ts";
import { reconstructClip } from "../../vae/trainer.ts";
import { commandOutput, setup } from "../util.ts";
import { pretrainedCheckpoint, TINY_MODEL } from "../vae/adapt_fixture.ts";
import { assertSpeechLikeWav } from "./speech_checks.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLIP = nodePath.join(ROOT, "audio/sample/en/clips/common_voice_en_90000001.mp3");
const PERMS = ["--allow-read", "--allow-write=/tmp", "--allow-env=AUDIO_GEN_NO_GPU"];

function run(script: string, args: string[]) {
  return commandOutput(
    new Deno.Command("deno", {
      args: ["run", ...PERMS, script, ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

/** The pretrained tiny model's checkpoint (made once per process). */
async function trainedCheckpoint(): Promise<string> {
  await setup();
  return (await pretrainedCheckpoint()).path;
}

Deno.test("generate: a prior sample and a reconstruction are speech-like WAVs of the right length", async () => {
  const dir = await Deno.makeTempDir({ prefix: "generate-" });
  const ckpt = await trainedCheckpoint();
  const prior = nodePath.join(dir, "prior.wav");
  const r1 = await run("cli/generate.ts", [
    "--checkpoint",
    ckpt,
    "--seconds",
    "1.5",
    "--iterations",
    "4",
    "--out",
    prior,
  ]);
  assert.equal(r1.code, 0, r1.err);
  assert.match(r1.out, /prior sample/);
  // 1.5 s → ceil(1.5·16000/256/4) = 24 latent steps = 96 frames = 95·256 samples.
  assertSpeechLikeWav(await Deno.readFile(prior), 95 * 256, "prior sample");

  const recon = nodePath.join(dir, "recon.wav");
  const r2 = await run("cli/generate.ts", [
    "--checkpoint",
    ckpt,
    "--input",
    CLIP,
    "--iterations",
    "4",
    "--out",
    recon,
  ]);
  assert.equal(r2.code, 0, r2.err);
  assert.match(r2.out, /reconstruction of/);
  // The input's frames, cut to a multiple of the latent hop (4), back to samples.
  const { samples } = await loadAudio(CLIP, { sampleRate: 16000 });
  const frames = Math.floor((1 + Math.floor(samples.length / 256)) / 4) * 4;
  assertSpeechLikeWav(await Deno.readFile(recon), (frames - 1) * 256, "reconstruction", samples);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("generate: bad arguments and broken checkpoints are refused, naming the problem", async () => {
  const dir = await Deno.makeTempDir({ prefix: "generate-bad-" });
  const noOut = await run("cli/generate.ts", ["--checkpoint", "x.safetensors"]);
  assert.equal(noOut.code, 64);
  assert.match(noOut.err, /--out/);
  const missing = await run("cli/generate.ts", [
    "--checkpoint",
    nodePath.join(dir, "nope.safetensors"),
    "--out",
    nodePath.join(dir, "a.wav"),
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.safetensors/);
  const corrupt = nodePath.join(dir, "corrupt.safetensors");
  await Deno.writeTextFile(corrupt, "not a checkpoint at all");
  const bad = await run("cli/generate.ts", [
    "--checkpoint",
    corrupt,
    "--out",
    nodePath.join(dir, "b.wav"),
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /corrupt\.safetensors/);
  assert.equal(
    (await Array.fromAsync(Deno.readDir(dir))).filter((e) => e.name.endsWith(".wav")).length,
    0,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("generate checks its destination before any work and names it, never its temp file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "generate-dest-" });
  const ckpt = await trainedCheckpoint();
  const args = (
    out: string,
  ) => ["--checkpoint", ckpt, "--seconds", "0.5", "--iterations", "2", "--out", out];
  // A folder at the output path: refused as a usage error, naming it.
  const folder = nodePath.join(dir, "a-folder.wav");
  await Deno.mkdir(folder);
  const r1 = await run("cli/generate.ts", args(folder));
  assert.equal(r1.code, 64, r1.err);
  assert.match(r1.err, new RegExp(`--out ${folder} is a folder`));
  assert.doesNotMatch(r1.err, /\.tmp/);
  // A file where its folder should be.
  const file = nodePath.join(dir, "plain-file");
  await Deno.writeTextFile(file, "x");
  const r2 = await run("cli/generate.ts", args(nodePath.join(file, "x.wav")));
  assert.equal(r2.code, 64, r2.err);
  assert.match(r2.err, new RegExp(`${file} is a file, not a folder`));
  // A missing folder is made, and the WAV lands there.
  const deep = nodePath.join(dir, "new", "folder", "prior.wav");
  const r3 = await run("cli/generate.ts", args(deep));
  assert.equal(r3.code, 0, r3.err);
  assert.ok((await Deno.stat(deep)).size > 44);
  assert.deepEqual([...Deno.readDirSync(nodePath.dirname(deep))].map((e) => e.name), ["prior.wav"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("generate: a length no WAV file can hold is refused at once, naming the limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "generate-long-" });
  const ckpt = await trainedCheckpoint();
  const out = nodePath.join(dir, "forever.wav");
  const r = await run("cli/generate.ts", ["--checkpoint", ckpt, "--seconds", "1e9", "--out", out]);
  assert.equal(r.code, 64, r.err);
  assert.match(r.err, /--seconds 1000000000 is .* more than a WAV file can hold: at most 37h16m/);
  assert.deepEqual([...Deno.readDirSync(dir)], [], "something was written");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("generate --input of 75 s: the stream's windows and chunks join into a speech-like WAV", async () => {
  const dir = await Deno.makeTempDir({ prefix: "generate-75s-" });
  const ckpt = await trainedCheckpoint();
  // The sample's clips one after another: longer than a model core (4096 frames, 65 s) and two
  // vocoder cores (2048 frames), so every stage meets seams.
  const clips = [...Deno.readDirSync(nodePath.join(ROOT, "audio/sample/en/clips"))]
    .map((e) => e.name).sort();
  const parts: Float32Array[] = [];
  let total = 0;
  for (let i = 0; total < 75 * 16000; i++) {
    const path = nodePath.join(ROOT, "audio/sample/en/clips", clips[i % clips.length]);
    const { samples } = await loadAudio(path, { sampleRate: 16000 });
    parts.push(samples);
    total += samples.length;
  }
  const input = concatSamples(parts);
  const wav = nodePath.join(dir, "long.wav");
  await Deno.writeFile(wav, encodeWav(input, 16000));
  const out = nodePath.join(dir, "recon.wav");
  const r = await run("cli/generate.ts", [
    "--checkpoint",
    ckpt,
    "--input",
    wav,
    "--iterations",
    "8",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.err);
  const frames = Math.floor((1 + Math.floor(input.length / 256)) / 4) * 4;
  assertSpeechLikeWav(await Deno.readFile(out), (frames - 1) * 256, "75 s reconstruction", input);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["long.wav", "recon.wav"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval: its NLL and mel-LSD equal float64 references, its KL its per-dimension KL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eval-" });
  const ckpt = await trainedCheckpoint();
  const cache = nodePath.join(dir, "cache");
  const r = await run("cli/eval.ts", [
    "--checkpoint",
    ckpt,
    "--data",
    "audio/sample/en",
    "--cache",
    cache,
    "--iterations",
    "8",
    "--json",
  ]);
  assert.equal(r.code, 0, r.err);
  const { waveform, ...e } = JSON.parse(r.out.trim().split("\n").pop()!);
  assert.equal(e.clips, 10);
  // Through the waveform: every clip scored; the feature-domain mean is the same measure as
  // eval's (there on whole latent steps, here on every frame, so close but not equal); the
  // audio adds Griffin-Lim's own error.
  assert.equal(waveform.clips.length, 10);
  assert.equal(waveform.summary.clips, 10);
  assert.ok(Math.abs(waveform.summary.featureMelLsd - e.melLsd) < 0.3, JSON.stringify(waveform));
  assert.ok(waveform.summary.melLsd > 1 && waveform.summary.lsd > 1, JSON.stringify(waveform));
  assert.ok(waveform.clips.every((c: { lag: number }) => Math.abs(c.lag) <= 2048));
  assert.equal(e.klPerDim.length, TINY_MODEL.latentDim);

  // References from the model's z = μ reconstructions of the same clips, in float64:
  // recon = mean over frames of Σ_bands ½((x − x̂)/σ)² + log σ + ½ log 2π, x = (log-mel − mean)/std;
  // mel-LSD = mean over clips of the mean over frames of √(mean over bands of (10·log10 P/P̂)²),
  // P = max(e^{log-mel} − logFloor, 0) + 1e-5.
  const { model } = await loadModel(ckpt);
  const { nMels, logFloor } = model.config.features;
  const std = await model.melStd.toArray();
  const logSigma = (await model.logScale.toArray())[0];
  const clips = await loadCache(cache, model.config.features);
  let nll = 0, frames = 0, lsd = 0;
  for (const clip of clips) {
    const { input, output, frames: n } = await reconstructClip(model, clip);
    let clipLsd = 0;
    for (let f = 0; f < n; f++) {
      let sq = 0;
      for (let m = 0; m < nMels; m++) {
        const i = f * nMels + m;
        const z = (input[i] - output[i]) / std[m] / Math.exp(logSigma);
        nll += 0.5 * z * z + logSigma + 0.5 * Math.log(2 * Math.PI);
        const power = (v: number) => Math.max(Math.exp(v) - logFloor, 0) + 1e-5;
        sq += (10 * Math.log10(power(input[i])) - 10 * Math.log10(power(output[i]))) ** 2;
      }
      clipLsd += Math.sqrt(sq / nMels);
    }
    lsd += clipLsd / n / clips.length;
    frames += n;
  }
  model.dispose();
  const near = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-3 * Math.abs(b) + 1e-4, `${what}: eval ${a}, reference ${b}`);
  near(e.frames, frames, "frames");
  near(e.recon, nll / frames, "reconstruction NLL per frame");
  near(e.melLsd, lsd, "mel-LSD");
  // KL per frame from the per-dimension KL (nats per latent step; 4 frames per step).
  const perDimSum = e.klPerDim.reduce((a: number, b: number) => a + b, 0);
  near(e.kl, perDimSum / 4, "KL per frame vs Σ KL per dimension / hop factor");
  assert.ok(e.kl > 0 && e.activeDims >= 1, JSON.stringify(e));

  // The cache is reused: a second run needs no decoding and gives the same numbers.
  // A bare cache has no audio: the feature-domain numbers only, and the text says why.
  const again = await run("cli/eval.ts", ["--checkpoint", ckpt, "--data", cache, "--json"]);
  assert.equal(again.code, 0, again.err);
  const { waveform: none, ...same } = JSON.parse(again.out.trim().split("\n").pop()!);
  assert.deepEqual(same, e);
  assert.equal(none, null);
  const text = await run("cli/eval.ts", ["--checkpoint", ckpt, "--data", cache]);
  assert.match(text.out, /mel-LSD \(features\)\s+[\d.]+ dB/);
  assert.match(text.out, /through the waveform\s+needs the clips' audio/);
  await Deno.remove(dir, { recursive: true });
});
