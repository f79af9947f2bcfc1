import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { parseVocoderArgs, trainVocoder } from "../../cli/train_vocoder.ts";
import { readVocoderCheckpoint } from "../../vocoder/checkpoint.ts";
import { formatVocoderTable } from "../../cli/eval_vocoder.ts";
import { setup } from "../util.ts";
import { speechLike } from "./signals.ts";

const CONFIG = {
  vocoder: { channels: 16, intermediate: 32, layers: 2 },
  discriminator: {
    periods: [2, 3],
    periodChannels: [4, 4],
    resolutions: [[512, 128]],
    resolutionChannels: 4,
  },
  train: { batch: 2, segmentFrames: 8, stftResolutions: [[256, 64], [512, 128]] },
};

const DATA = {
  train: [{ name: "a", samples: speechLike(24000, 1) }, {
    name: "b",
    samples: speechLike(20000, 2),
  }],
  eval: { tiny: [{ name: "c", samples: speechLike(12000, 3) }] },
};

Deno.test("train:vocoder: a run, a resume into the adversarial phase, and a refused resume", async () => {
  await setup();
  const dir = await Deno.makeTempDir();
  const config = nodePath.join(dir, "config.json");
  await Deno.writeTextFile(config, JSON.stringify(CONFIG));
  const base = [
    "--out",
    dir,
    "--config",
    config,
    "--quiet",
    "--eval-every",
    "3",
    "--checkpoint-every",
    "3",
  ];
  const first = await trainVocoder(await parseVocoderArgs([...base, "--steps", "3"]), {
    data: DATA,
  });
  assert.equal(first.trainer.step, 3);
  assert.equal(first.lastStep!.adversarialPhase, false);
  const e = first.eval.tiny;
  assert.ok(
    [e.vocoder.melLsd, e.vocoder.lsd, e.griffinLim.melLsd, e.griffinLim.lsd].every(Number.isFinite),
  );
  for (
    const f of ["checkpoint.safetensors", "vocoder.safetensors", "report.html", "baseline.json"]
  ) {
    assert.ok((await Deno.stat(nodePath.join(dir, f))).size > 0, f);
  }
  const report = await Deno.readTextFile(nodePath.join(dir, "report.html"));
  assert.match(report, /Griffin-Lim \(64 iterations\)/);
  assert.match(report, /tiny \(1 clips\): vocoder/);

  // Phase two: the discriminators join at step 4; every term stays finite.
  const second = await trainVocoder(
    await parseVocoderArgs([...base, "--resume", "--steps", "6", "--adversarial-from", "4"]),
    { data: DATA },
  );
  const s = second.lastStep!;
  assert.equal(second.trainer.step, 6);
  assert.ok(s.adversarialPhase);
  for (const v of [s.loss, s.mel, s.discriminator, s.adversarial, s.featureMatching, s.gradNorm]) {
    assert.ok(Number.isFinite(v), JSON.stringify(s));
  }
  assert.equal(second.trainer.skippedSteps, 0);
  const ckpt = await readVocoderCheckpoint(nodePath.join(dir, "checkpoint.safetensors"));
  assert.equal(ckpt.state!.step, 6);
  assert.equal(ckpt.train!.adversarialFrom, 4);
  assert.ok(
    (ckpt.state!.history as { notes: string[] }).notes.some((n) =>
      /step 3: adversarialFrom 0 → 4/.test(n)
    ),
  );

  // What the run is cannot change on resume.
  await assert.rejects(
    async () =>
      trainVocoder(await parseVocoderArgs([...base, "--resume", "--batch", "3"]), { data: DATA }),
    /--resume cannot change batch/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train:vocoder: bad flags and configs are refused before any work, naming the field", async () => {
  await assert.rejects(() => parseVocoderArgs(["--steps", "0"]), /--steps must be a number >= 1/);
  const dir = await Deno.makeTempDir();
  const config = nodePath.join(dir, "c.json");
  await Deno.writeTextFile(config, JSON.stringify({ vocoder: { kernelSize: 4 } }));
  await assert.rejects(
    () => parseVocoderArgs(["--config", config]),
    /kernelSize must be odd, got 4/,
  );
  await Deno.writeTextFile(config, JSON.stringify({ train: { stepz: 4 } }));
  await assert.rejects(() => parseVocoderArgs(["--config", config]), /unknown key "stepz"/);
  await assert.rejects(
    () => parseVocoderArgs(["--vae", `${dir}/none.safetensors`]),
    /--vae .* is not a file/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval:vocoder's table: dB to two places and the change from Griffin-Lim", () => {
  const table = formatVocoderTable([
    {
      set: "cv",
      clips: 19,
      input: "true mels",
      griffinLim: { melLsd: 2.5, lsd: 4.4 },
      vocoder: { melLsd: 2.0, lsd: 4.84 },
    },
  ]);
  assert.match(
    table,
    /\| cv \(19 clips\) \| true mels \| 2\.50 \/ 4\.40 \| 2\.00 \/ 4\.84 \| −20 % \/ \+10 % \|/,
  );
});
