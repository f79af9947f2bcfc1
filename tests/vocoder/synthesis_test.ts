import assert from "node:assert/strict";
import * as nodePath from "node:path";
import * as ag from "../../mod.ts";
import { DEFAULT_FEATURES } from "../../audio/features.ts";
import { melToAudio } from "../../audio/vocoder.ts";
import { generate, parseGenerateArgs } from "../../cli/generate.ts";
import { chooseAudioOut } from "../../cli/vocoder_choice.ts";
import { DEFAULT_VOCODER } from "../../vocoder/config.ts";
import { saveVocoder } from "../../vocoder/checkpoint.ts";
import { Vocoder } from "../../vocoder/model.ts";
import { logMelToAudio } from "../../vocoder/synthesis.ts";
import { setup } from "../util.ts";
import { pretrainedCheckpoint } from "../vae/adapt_fixture.ts";

const SMALL = { ...DEFAULT_VOCODER, channels: 16, intermediate: 32, layers: 2 };
const SLANEY = { ...DEFAULT_FEATURES, htk: false, norm: "slaney" as const };

Deno.test("logMelToAudio: the vocoder's samples, or Griffin-Lim's; a vocoder of other features is refused", async () => {
  await setup();
  const v = new Vocoder(SMALL, 4);
  await ag.tidy(async () => {
    const frames = ag.randn([1, 20, 80], { seed: 1 }).sub(6);
    const voc = await logMelToAudio(frames, DEFAULT_FEATURES, {
      kind: "vocoder",
      vocoder: v,
      name: "v",
    })
      .toArray();
    assert.deepEqual(voc, await v.synthesize(frames.transpose(1, 2)).toArray());
    const gl = logMelToAudio(frames, DEFAULT_FEATURES, { kind: "griffin-lim", iterations: 3 }, {
      seed: 2,
    });
    const ref = melToAudio(frames, DEFAULT_FEATURES, { iterations: 3, seed: 2 });
    assert.deepEqual(await gl.toArray(), await ref.toArray());
    assert.throws(
      () => logMelToAudio(frames, SLANEY, { kind: "vocoder", vocoder: v, name: "v.safetensors" }),
      /v\.safetensors was trained on other features .*features\.htk: vocoder true, these log-mel frames false/,
    );
  });
  v.dispose();
});

Deno.test("--vocoder: griffin-lim, a fitting file, and a file of other features (refused by field)", async () => {
  await setup();
  const dir = await Deno.makeTempDir();
  const path = nodePath.join(dir, "v.safetensors");
  const v = new Vocoder(SMALL, 4);
  await saveVocoder(path, v);
  assert.equal((await chooseAudioOut("griffin-lim", DEFAULT_FEATURES, 7)).kind, "griffin-lim");
  const chosen = await chooseAudioOut(path, DEFAULT_FEATURES, 7);
  assert.equal(chosen.kind, "vocoder");
  if (chosen.kind === "vocoder") chosen.vocoder.dispose();
  await assert.rejects(
    () => chooseAudioOut(path, SLANEY, 7),
    /v\.safetensors was trained on other features than the model's: .*features\.norm: vocoder null, the model "slaney"/,
  );
  await assert.rejects(() => chooseAudioOut(nodePath.join(dir, "none"), DEFAULT_FEATURES, 7));
  await Deno.remove(dir, { recursive: true });
  v.dispose();
});

Deno.test("generate --vocoder FILE writes the vocoder's audio and says so", async () => {
  await setup();
  const dir = await Deno.makeTempDir();
  const vocPath = nodePath.join(dir, "v.safetensors");
  const v = new Vocoder(SMALL, 4);
  await saveVocoder(vocPath, v);
  v.dispose();
  const ckpt = (await pretrainedCheckpoint()).path;
  const out = nodePath.join(dir, "prior.wav");
  const opts = parseGenerateArgs([
    "--checkpoint",
    ckpt,
    "--seconds",
    "1",
    "--vocoder",
    vocPath,
    "--out",
    out,
  ]);
  const r = await generate(opts);
  assert.match(r.audioOut, /^vocoder .*v\.safetensors$/);
  // 1 s → 16 latent steps → 64 frames → 63 hops of samples.
  assert.ok(Math.abs(r.seconds - (63 * 256) / 16000) < 1e-9, `${r.seconds} s`);
  const gl = await generate({ ...opts, vocoder: "griffin-lim", iterations: 2 });
  assert.match(gl.audioOut, /Griffin-Lim \(2 iterations\)/);
  await Deno.remove(dir, { recursive: true });
});
