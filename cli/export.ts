/**
 * `deno task export --checkpoint out/base/checkpoint.safetensors --out models/base.safetensors`:
 * the shippable form of a trained model — weights, normalisation statistics, the model config
 * and the replay speech the checkpoint carries, without optimizer moments or training state
 * (about a third of a training checkpoint's size). Its metadata records where it came from (the
 * run's step and train config). `listen`, `generate`, `eval` and the browser page load it as
 * any checkpoint.
 * @module
 */
import * as nodePath from "node:path";
import { loadModel, saveCheckpoint } from "../vae/checkpoint.ts";
import { parseFlags, runCommand, UsageError } from "./args.ts";
import { initOrExit } from "./device_flags.ts";

const USAGE = `usage: deno task export --checkpoint CKPT --out MODEL.safetensors
  writes the model's weights and replay speech only (no optimizer state)`;

/** Exports `checkpoint` to `out`; returns the bytes written and the training step. */
export async function exportModel(
  checkpoint: string,
  out: string,
): Promise<{ bytes: number; step: number | null; replayClips: number }> {
  const { model, checkpoint: ckpt } = await loadModel(checkpoint);
  try {
    await saveCheckpoint(out, model, {
      replay: ckpt.replay ?? undefined,
      train: ckpt.train ?? undefined,
      exportedFrom: { step: ckpt.state?.step ?? null },
    });
  } finally {
    model.dispose();
  }
  return {
    bytes: (await Deno.stat(out)).size,
    step: ckpt.state?.step ?? null,
    replayClips: ckpt.replay?.length ?? 0,
  };
}

if (import.meta.main) {
  await runCommand("export", USAGE, async (run) => {
    const values = parseFlags(Deno.args, {
      checkpoint: { type: "string" },
      out: { type: "string" },
    });
    if (!values.checkpoint || !values.out) {
      throw new UsageError("--checkpoint and --out are both required");
    }
    run.writesTo(nodePath.dirname(values.out));
    await initOrExit(Deno.args);
    const r = await exportModel(values.checkpoint, values.out);
    console.log(
      `exported ${values.checkpoint}${r.step === null ? "" : ` (step ${r.step})`} → ` +
        `${values.out}: ${(r.bytes / 1e6).toFixed(1)} MB, ${r.replayClips} replay clips`,
    );
  });
}
