/**
 * Tests for cli/export.ts: the exported model holds the weights and the replay of the training
 * checkpoint and nothing of its optimizer, loads as any checkpoint and reconstructs the same.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { exportModel } from "../../cli/export.ts";
import { DEFAULT_TRAIN } from "../../vae/config.ts";
import { loadCheckpoint, loadModel, saveCheckpoint } from "../../vae/checkpoint.ts";
import { CropSampler, type MelClip, normalizationStats } from "../../vae/data.ts";
import { MelVae } from "../../vae/model.ts";
import { VaeTrainer } from "../../vae/trainer.ts";
import { randomArray, setup } from "../util.ts";
import { SMALL_MODEL } from "../vae/small_model.ts";

await setup();

const MODEL = SMALL_MODEL;

Deno.test("export keeps weights and replay, drops the optimizer, and reconstructs the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "export-" });
  try {
    const clips: MelClip[] = [24, 17].map((frames, i) => ({
      name: `c${i}`,
      frames,
      mel: Float32Array.from(randomArray(frames * 8, 50 + i, -6, 1)),
    }));
    const model = new MelVae(MODEL, 2);
    const { mean, std } = normalizationStats(clips, 8);
    model.setNormalization(mean, std);
    const train = { ...DEFAULT_TRAIN, batch: 2, cropFrames: 8, lr: 1e-2 };
    const trainer = new VaeTrainer(model, train, new CropSampler(clips, 8, 8, 2, 1));
    for (let i = 0; i < 3; i++) await trainer.trainStep();
    const ckpt = nodePath.join(dir, "checkpoint.safetensors");
    await saveCheckpoint(ckpt, model, {
      train,
      optimizer: trainer.optimizer,
      replay: clips,
      state: {
        step: 3,
        gpuRng: trainer.gpuRng.state(),
        cropRng: 1,
        skippedSteps: 0,
        history: { train: [], evals: [] },
      },
    });
    const out = nodePath.join(dir, "model.safetensors");
    const r = await exportModel(ckpt, out);
    assert.equal(r.step, 3);
    assert.equal(r.replayClips, 2);
    const full = await loadCheckpoint(ckpt), small = await loadCheckpoint(out);
    assert.ok([...full.tensors.keys()].some((k) => k.startsWith("optim.")));
    assert.deepEqual([...small.tensors.keys()].filter((k) => k.startsWith("optim.")), []);
    assert.equal(small.optimizer, null);
    assert.equal(small.state, null);
    assert.deepEqual(small.replay!.map((c) => c.frames), [24, 17]);
    assert.equal(JSON.parse(small.metadata.exported_from).step, 3);
    assert.ok(r.bytes < (await Deno.stat(ckpt)).size);
    for (const [name, t] of full.tensors) {
      if (name.startsWith("model.")) assert.deepEqual(small.tensors.get(name)!.data, t.data, name);
    }
    const { model: loaded } = await loadModel(out);
    assert.deepEqual(loaded.config, model.config);
    loaded.dispose();
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
