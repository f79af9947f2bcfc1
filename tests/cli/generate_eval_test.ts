/**
 * `deno task generate` and `deno task eval` as subprocesses, on a tiny checkpoint made in the
 * test: prior samples and reconstructions come out as valid WAVs of the asked length; eval
 * prints finite numbers (and JSON); bad input is refused with a message naming the file.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import * as ag from "../../mod.ts";
import { decodeWav } from "../../audio/wav.ts";
import { loadAudio } from "../../audio/decode.ts";
import { DEFAULT_MODEL, type ModelConfig } from "../../vae/config.ts";
import { saveCheckpoint } from "../../vae/checkpoint.ts";
import { MelVae } from "../../vae/model.ts";
import { setup } from "../util.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLIP = nodePath.join(ROOT, "audio/sample/en/clips/common_voice_en_90000001.mp3");
const PERMS = ["--allow-read", "--allow-write=/tmp", "--allow-env=AUDIO_GEN_NO_GPU"];
const TINY: ModelConfig = { ...DEFAULT_MODEL, channels: 16, latentDim: 4 };

async function run(
  script: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["run", ...PERMS, script, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

async function tinyCheckpoint(dir: string): Promise<string> {
  await setup();
  const path = nodePath.join(dir, "tiny.safetensors");
  const model = new MelVae(TINY, 7);
  await saveCheckpoint(path, model);
  model.dispose();
  return path;
}

function assertSpeechLikeWav(bytes: Uint8Array, seconds: number, what: string): void {
  const wav = decodeWav(bytes, what);
  assert.equal(wav.sampleRate, 16000, `${what}: rate`);
  assert.equal(wav.channels.length, 1, `${what}: channels`);
  const x = wav.channels[0];
  assert.ok(
    Math.abs(x.length / 16000 - seconds) < 0.1,
    `${what}: ${x.length / 16000} s, expected ≈ ${seconds}`,
  );
  assert.ok(x.every(Number.isFinite), `${what}: non-finite samples`);
  const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  assert.ok(rms > 1e-4, `${what}: silent (rms ${rms})`);
}

Deno.test("generate: a prior sample and a reconstruction are valid WAVs of the right length", async () => {
  const dir = await Deno.makeTempDir({ prefix: "generate-" });
  const ckpt = await tinyCheckpoint(dir);
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
  assertSpeechLikeWav(await Deno.readFile(prior), (95 * 256) / 16000, "prior sample");

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
  const inputSeconds = ((frames - 1) * 256) / 16000;
  assertSpeechLikeWav(await Deno.readFile(recon), inputSeconds, "reconstruction");
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

Deno.test("eval: finite ELBO terms, active dims, mel-LSD and MCD on the sample's dev split", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eval-" });
  const ckpt = await tinyCheckpoint(dir);
  const cache = nodePath.join(dir, "cache");
  const r = await run("cli/eval.ts", [
    "--checkpoint",
    ckpt,
    "--data",
    "audio/sample/en",
    "--cache",
    cache,
    "--json",
  ]);
  assert.equal(r.code, 0, r.err);
  const e = JSON.parse(r.out.trim().split("\n").pop()!);
  assert.equal(e.clips, 10);
  for (const k of ["recon", "kl", "elbo", "melLsd", "mcd"]) {
    assert.ok(Number.isFinite(e[k]), `${k} = ${e[k]}`);
  }
  assert.ok(
    Math.abs(e.elbo + e.recon + e.kl) < 1e-6 * Math.abs(e.elbo) + 1e-6,
    "elbo = −(recon + kl)",
  );
  assert.ok(e.kl >= 0 && e.melLsd > 0, JSON.stringify(e));
  assert.equal(e.klPerDim.length, TINY.latentDim);
  // The cache is reused: a second run needs no decoding and gives the same numbers.
  const again = await run("cli/eval.ts", ["--checkpoint", ckpt, "--data", cache, "--json"]);
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(JSON.parse(again.out.trim().split("\n").pop()!), e);
  const text = await run("cli/eval.ts", ["--checkpoint", ckpt, "--data", cache]);
  assert.match(text.out, /mel log-spectral distance\s+[\d.]+ dB/);
  await Deno.remove(dir, { recursive: true });
  void ag;
});
