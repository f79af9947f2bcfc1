/**
 * Exit codes a script can trust (issue 13 item 9): error exits of the commands, run as
 * subprocesses, end with their documented code every time — also those after a model is on the
 * GPU, which used to end in SIGSEGV (exit 139) about one time in three while the Vulkan driver
 * tore down under work still queued. The cases take turns for `EXIT_STRESS_RUNS` runs in all
 * (default 16, a second or two each; two of three runs put a model on the GPU first, so the
 * old crash showed in 16 runs with a chance of 99 %); `deno task test:stress` runs 200.
 * @module
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import * as ag from "../../engine/mod.ts";
import { encodeWav } from "../../audio/wav.ts";
import { saveCheckpoint } from "../../vae/checkpoint.ts";
import { MelVae } from "../../vae/model.ts";
import { decodeSafetensors, encodeSafetensors } from "../../vae/safetensors.ts";
import { commandOutput, setup } from "../util.ts";
import { TINY_MODEL } from "../vae/adapt_fixture.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RUNS = Number(Deno.env.get("EXIT_STRESS_RUNS") ?? "16");
/** Runs at once (the machine's cores are few; the crash needs no contention to show). */
const PARALLEL = 2;

/** One error exit: a command line, its documented code, and what its message must name. */
interface ErrorCase {
  what: string;
  script: string;
  args: string[];
  code: number;
  names: RegExp;
}

/** The fixtures: a good tiny checkpoint, one whose config disagrees with its tensors, bad WAVs. */
async function fixtures(dir: string): Promise<ErrorCase[]> {
  await setup();
  const good = nodePath.join(dir, "good.safetensors");
  const model = new MelVae(TINY_MODEL, 1);
  await saveCheckpoint(good, model);
  model.dispose();
  const { tensors, metadata } = decodeSafetensors(await Deno.readFile(good), good);
  metadata.model_config = JSON.stringify({ ...TINY_MODEL, channels: TINY_MODEL.channels + 16 });
  const badShapes = nodePath.join(dir, "bad-shapes.safetensors");
  await Deno.writeFile(badShapes, encodeSafetensors({ tensors, metadata }));
  const zeroRate = nodePath.join(dir, "zero-rate.wav");
  const wav = encodeWav(new Float32Array(16000), 16000);
  new DataView(wav.buffer).setUint32(24, 0, true); // the header's sample rate
  await Deno.writeFile(zeroRate, wav);
  const empty = nodePath.join(dir, "empty.wav");
  await Deno.writeFile(empty, new Uint8Array(0));
  const speech = nodePath.join(dir, "noise.wav");
  const noise = Float32Array.from(
    { length: 16000 },
    (_, i) => 0.1 * Math.sin(i * 0.37 * (1 + i % 7)),
  );
  await Deno.writeFile(speech, encodeWav(noise, 16000));
  const adapted = nodePath.join(dir, "adapted.safetensors");
  const out = nodePath.join(dir, "out.wav");
  return [
    {
      what: "generate: a checkpoint whose tensors disagree with its config (model on the GPU)",
      script: "cli/generate.ts",
      args: ["--checkpoint", badShapes, "--seconds", "1", "--out", out],
      code: 64,
      names: /bad-shapes\.safetensors.*size mismatch/,
    },
    {
      what: "listen: a replay folder that is neither a cache nor a corpus (two models on the GPU)",
      script: "cli/listen.ts",
      args: ["--checkpoint", good, "--replay", dir, "--input", speech, "--out", adapted],
      code: 64,
      names: /--replay .*neither a prepared feature cache/,
    },
    {
      what: "generate --input: a WAV whose header says sample rate 0",
      script: "cli/generate.ts",
      args: ["--checkpoint", good, "--input", zeroRate, "--out", out],
      code: 1,
      names: /zero-rate\.wav.*sample rate 0/,
    },
    {
      what: "generate --input: an empty WAV",
      script: "cli/generate.ts",
      args: ["--checkpoint", good, "--input", empty, "--out", out],
      code: 1,
      names: /empty\.wav.*empty file/,
    },
    {
      what: "eval: a checkpoint whose tensors disagree with its config (model on the GPU)",
      script: "cli/eval.ts",
      args: ["--checkpoint", badShapes, "--data", dir, "--cache", nodePath.join(dir, "cache")],
      code: 64,
      names: /bad-shapes\.safetensors.*size mismatch/,
    },
  ];
}

/** Order of the cases (indices into {@link fixtures}' list): the GPU ones twice as often. */
const TURNS = [0, 4, 2, 0, 1, 3];

function runCase(c: ErrorCase) {
  return commandOutput(
    new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env=AUDIO_GEN_NO_GPU,AUDIO_GEN_AUTOTUNE",
        c.script,
        ...c.args,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

Deno.test({
  name: `error exits give their documented code every time (${RUNS} runs)`,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "exit-codes-" });
    const cases = await fixtures(dir);
    const tally = new Map<string, Map<number, number>>();
    const wrong: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < RUNS; i = next++) {
        const c = cases[TURNS[i % TURNS.length]];
        const r = await runCase(c);
        const counts = tally.get(c.what) ?? new Map<number, number>();
        counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
        tally.set(c.what, counts);
        if (r.code !== c.code || !c.names.test(r.err.replaceAll("\n", " "))) {
          wrong.push(`${c.what}: exit ${r.code} (expected ${c.code}):\n${r.err.slice(-600)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    for (const [what, counts] of tally) {
      console.log(
        `${what}: ${[...counts].map(([code, n]) => `exit ${code} × ${n}`).join(", ")}`,
      );
    }
    await Deno.remove(dir, { recursive: true });
    assert.equal(wrong.length, 0, `${wrong.length} of ${RUNS} runs:\n${wrong.join("\n")}`);
    ag.rt(); // the engine stays usable for the other tests of this process
  },
});
