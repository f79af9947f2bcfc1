/**
 * Bad audio input through the commands, as a user meets it (issue 13 items 4, 5, 6 and the
 * empty / zero-rate WAVs of item 9), run as subprocesses on a tiny checkpoint made here:
 * - a damaged MP3 decodes with one warning naming the file and the counts, and no unnamed
 *   `mpg123-decoder` lines; a mostly-garbage one is an error naming the file;
 * - a float WAV with NaN and ±Inf decodes, repaired, with a warning naming the file, and the
 *   output is not silence;
 * - a clip shorter than the STFT needs is an error naming the file and the minimum, and
 *   `eval` names it among the clips it skipped;
 * - empty and zero-rate WAVs are errors naming the file, raised before any GPU work: with
 *   `--no-gpu` the command still exits 1 with that message rather than 3 (no adapter).
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { DEFAULT_MODEL, type ModelConfig } from "../../vae/config.ts";
import { saveCheckpoint } from "../../vae/checkpoint.ts";
import { MelVae } from "../../vae/model.ts";
import { decodeWav, encodeWav } from "../../audio/wav.ts";
import { setup } from "../util.ts";
import {
  CURRENT_HEADER,
  FIXTURE_DIR,
  garble,
  makeCorpus,
  rms,
  SAMPLE_DIR,
  tsv,
} from "./fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PERMS = ["--allow-read", "--allow-write=/tmp", "--allow-env=AUDIO_GEN_NO_GPU"];
const TINY: ModelConfig = { ...DEFAULT_MODEL, channels: 16, latentDim: 4 };
const CLIP = `${SAMPLE_DIR}clips/common_voice_en_90000033.mp3`;

const DIR = await Deno.makeTempDir({ prefix: "decode_cli_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(DIR, { recursive: true }));

async function run(script: string, args: string[]): Promise<{ code: number; err: string }> {
  const { code, stderr } = await new Deno.Command("deno", {
    args: ["run", ...PERMS, script, ...args],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, err: new TextDecoder().decode(stderr) };
}

let checkpoint: string | undefined;
async function tinyCheckpoint(): Promise<string> {
  if (checkpoint) return checkpoint;
  await setup();
  const path = nodePath.join(DIR, "tiny.safetensors");
  const model = new MelVae(TINY, 7);
  await saveCheckpoint(path, model);
  model.dispose();
  return (checkpoint = path);
}

async function input(name: string, bytes: Uint8Array): Promise<string> {
  const path = nodePath.join(DIR, name);
  await Deno.writeFile(path, bytes);
  return path;
}

/**
 * The clip without its LAME Xing/Info frame (the first frame after the ID3 tag), as many
 * encoders write MP3: then nothing says how many frames there should be.
 */
function withoutInfoFrame(bytes: Uint8Array): Uint8Array {
  const id3 = 10 + ((bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) | bytes[9]);
  const kbps = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]; // MPEG-1 L3
  const rate = [44100, 48000, 32000][(bytes[id3 + 2] >> 2) & 3];
  const length = Math.floor((144 * kbps[bytes[id3 + 2] >> 4] * 1000) / rate) +
    ((bytes[id3 + 2] >> 1) & 1);
  const tag = id3 + 4 + (bytes[id3 + 3] >> 6 === 3 ? 17 : 32); // after header and side info
  const info = String.fromCharCode(...bytes.subarray(tag, tag + 4));
  assert.ok(info === "Info" || info === "Xing", info);
  return new Uint8Array([...bytes.subarray(0, id3), ...bytes.subarray(id3 + length)]);
}

const tone = (n: number) => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i / 7));

function generate(ckpt: string, inputPath: string, out: string, noGpu = false) {
  const args = ["--checkpoint", ckpt, "--input", inputPath, "--iterations", "2", "--out", out];
  return run("cli/generate.ts", noGpu ? [...args, "--no-gpu"] : args);
}

Deno.test("generate: a damaged MP3 gives one warning naming it; a mostly-garbage one an error", async () => {
  const ckpt = await tinyCheckpoint();
  const bytes = withoutInfoFrame(await Deno.readFile(CLIP));
  const holed = await input("holed.mp3", garble(bytes, bytes.length / 2 - 2048, 4096));
  const out = nodePath.join(DIR, "holed-out.wav");
  const r = await generate(ckpt, holed, out);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, /mpg123/);
  const lines = r.err.trim().split("\n");
  assert.deepEqual(lines.filter((l) => l.includes("holed.mp3")).length, 1, r.err);
  assert.match(
    r.err,
    new RegExp(
      `warning: ${holed} \\(MP3\\): 1 damaged region skipped, \\d+ decoder errors?; ` +
        `\\d+% of the audio lost`,
    ),
  );
  assert.ok((await Deno.stat(out)).size > 44);

  const junk = await input(
    "junk.mp3",
    garble(bytes, Math.floor(bytes.length * 0.02), bytes.length),
  );
  const j = await generate(ckpt, junk, nodePath.join(DIR, "junk-out.wav"), true);
  assert.equal(j.code, 1, j.err);
  assert.doesNotMatch(j.err, /mpg123/);
  assert.match(j.err, new RegExp(`^generate: ${junk} \\(MP3\\): mostly undecodable: 9\\d% of`));
});

Deno.test("generate: NaN and ±Inf samples are set to 0 with a warning naming the file", async () => {
  const ckpt = await tinyCheckpoint();
  const x = tone(16000);
  x[100] = NaN;
  x[2000] = Infinity;
  const nan = await input("nan.wav", encodeWav(x, 16000, { format: "float32" }));
  const out = nodePath.join(DIR, "nan-out.wav");
  const r = await generate(ckpt, nan, out);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.err,
    new RegExp(
      `warning: ${nan} \\(WAV\\): 2 non-finite samples \\(NaN or ±Inf\\) set to 0, ` +
        "first at sample 100 \\(0\\.006 s\\)",
    ),
  );
  const y = decodeWav(await Deno.readFile(out)).channels[0];
  assert.ok(y.every(Number.isFinite));
  assert.ok(rms(y) > 1e-4, `output is silent (rms ${rms(y)})`); // NaN used to silence it all
});

Deno.test("generate: a clip shorter than one latent step is refused, naming the minimum", async () => {
  const ckpt = await tinyCheckpoint();
  const short = await input("short.wav", encodeWav(tone(400), 16000));
  const r = await generate(ckpt, short, nodePath.join(DIR, "short-out.wav"), true);
  assert.equal(r.code, 1, r.err);
  assert.equal(
    r.err.trim(),
    `generate: ${short} (WAV): too short: 400 samples (0.025 s) at 16000 Hz; ` +
      "at least 768 (0.048 s) are needed", // 3 hops: 4 frames, one latent step of the tiny model
  );
});

Deno.test("eval names the clips it skipped (here one too short to use)", async () => {
  const ckpt = await tinyCheckpoint();
  const row = (path: string) => ({ client_id: "a", path, sentence: "x", locale: "en" });
  const dev = tsv(CURRENT_HEADER, [row("good.mp3"), row("short.wav")]);
  const corpus = await makeCorpus({
    tsvs: { "train.tsv": dev, "dev.tsv": dev, "test.tsv": dev },
    clips: { "good.mp3": await Deno.readFile(CLIP), "short.wav": encodeWav(tone(400), 16000) },
  });
  const r = await run("cli/eval.ts", [
    "--checkpoint",
    ckpt,
    "--data",
    corpus,
    "--cache",
    nodePath.join(DIR, "eval-cache"),
    "--json",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /eval: skipped 1 clip: short\.wav \(duration 0\.03 s < 0\.3 s\)/);
});

Deno.test("empty and zero-rate WAVs are refused by name before any GPU work", async () => {
  const ckpt = await tinyCheckpoint();
  const empty = await input("empty.wav", encodeWav(new Float32Array(0), 16000));
  const zero = encodeWav(tone(5000), 16000);
  zero.fill(0, 24, 28);
  const zeroRate = await input("zero-rate.wav", zero);
  const cases: [string, string][] = [
    [empty, "no audio: the file holds 0 samples"],
    [zeroRate, "header says sample rate 0"],
  ];
  for (const [path, reason] of cases) {
    const g = await generate(ckpt, path, nodePath.join(DIR, "x.wav"), true);
    assert.equal(g.code, 1, g.err);
    assert.equal(g.err.trim(), `generate: ${path} (WAV): ${reason}`);
    const out = nodePath.join(DIR, "adapted.safetensors");
    const l = await run("cli/listen.ts", [
      "--checkpoint",
      ckpt,
      "--input",
      path,
      "--out",
      out,
      "--no-gpu",
    ]);
    assert.equal(l.code, 1, l.err);
    assert.equal(l.err.trim(), `listen: ${path} (WAV): ${reason}`);
  }
});

Deno.test("prepare decodes FLAC and Ogg clips in its workers and skips broken ones by name", async () => {
  const flac = await Deno.readFile(`${FIXTURE_DIR}librispeech-1447-130550-0000.flac`);
  const opus = await Deno.readFile(`${FIXTURE_DIR}fleurs-es-006.opus.ogg`);
  const vorbis = await Deno.readFile(`${FIXTURE_DIR}librispeech-198-209-0000-cut.vorbis.ogg`);
  const wrongMagic = flac.slice();
  wrongMagic[3] = 0x58;
  const clips: Record<string, Uint8Array> = {
    "a.flac": flac,
    "b.ogg": opus,
    "c.ogg": vorbis,
    "cut.flac": flac.subarray(0, Math.floor(flac.length * 0.7)),
    "junk.ogg": garble(opus, 2000, opus.length),
    "magic.flac": wrongMagic,
  };
  const row = (path: string) => ({ client_id: path, path, sentence: "x", locale: "en" });
  const all = tsv(CURRENT_HEADER, Object.keys(clips).map(row));
  const corpus = await makeCorpus({
    tsvs: { "train.tsv": all, "dev.tsv": all, "test.tsv": all },
    clips,
  });
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["run", ...PERMS, "cli/prepare.ts", "--data", corpus, "--out", `${DIR}/prep-cache`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  assert.match(out, /^prepared 3 clips/m);
  assert.match(out, /skipped 3 clips: /);
  assert.match(
    out,
    /cut\.flac \(FLAC: truncated: the file ends inside the frame at sample \d+ of 26320\)/,
  );
  assert.match(out, /junk\.ogg \((Ogg Opus: )?mostly undecodable: \d+% of the audio lost/);
  assert.match(out, /magic\.flac \((duration unknown: )?unknown audio format \(starts with 'fLaX'/);
});
