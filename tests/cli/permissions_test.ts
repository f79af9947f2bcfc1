/**
 * Tests for cli/permissions.ts: a task refused a write outside out/ prints the exact command line
 * that allows it (the task's own flags from deno.json, the folder added to --allow-write, the
 * same arguments, shell-quoted), and that command works: `deno task train --out /tmp/…` is
 * refused before any work, then the printed command trains into that folder.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { prepare, prepareOptions } from "../../cli/prepare.ts";
import { commandAllowingWrites, shellWord, writeRefusalHint } from "../../cli/permissions.ts";
import { loadCheckpoint } from "../../vae/checkpoint.ts";
import { commandOutput, setup } from "../util.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TASKS: Record<string, string> = JSON.parse(
  await Deno.readTextFile(nodePath.join(ROOT, "deno.json")),
).tasks;

/** The words of a POSIX shell command line of plain, single-quoted and \-escaped parts. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.trim().matchAll(/(?:[^\s'\\]+|'[^']*'|\\.)+/g)) {
    words.push(m[0].replace(/'([^']*)'|\\(.)/g, (_, quoted, escaped) => quoted ?? escaped));
  }
  return words;
}

/** Runs a command from the project folder; one that runs past 2 minutes is killed. */
function output(cmd: string, args: string[]) {
  return commandOutput(
    new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      signal: AbortSignal.timeout(120_000), // a right command trains 2 tiny steps in seconds
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

Deno.test("commandAllowingWrites adds the folders to the task's --allow-write and quotes words", () => {
  const task = "deno run --allow-read --allow-write=out --allow-env=A,B cli/train.ts";
  assert.equal(
    commandAllowingWrites(task, ["/tmp/x"], ["--out", "/tmp/x", "--steps", "3"]),
    "deno run --allow-read --allow-write=out,/tmp/x --allow-env=A,B cli/train.ts --out /tmp/x " +
      "--steps 3",
  );
  // No --allow-write in the task: one is added before the script.
  assert.equal(
    commandAllowingWrites("deno run --allow-read cli/eval.ts", ["d"], []),
    "deno run --allow-read --allow-write=d cli/eval.ts",
  );
  // An already allowed folder is not repeated.
  assert.equal(
    commandAllowingWrites(task, ["out"], []),
    "deno run --allow-read --allow-write=out --allow-env=A,B cli/train.ts",
  );
  assert.equal(shellWord("/tmp/my run"), "'/tmp/my run'");
  assert.equal(shellWord("it's"), `'it'\\''s'`);
  assert.deepEqual(shellWords(`a 'b c' ${shellWord("--x=it's")}`), ["a", "b c", "--x=it's"]);
});

Deno.test("writeRefusalHint uses each command's task from deno.json", () => {
  for (const name of ["train", "prepare", "generate", "eval", "listen"]) {
    const hint = writeRefusalHint(name, ["/data/x"], ["/data/x"], ["--out", "/data/x"]);
    const line = hint.split("\n").at(-1)!.trim();
    const want = TASKS[name].replace("--allow-write=out", "--allow-write=out,/data/x");
    assert.equal(line, `${want} --out /data/x`, name);
    assert.match(hint, new RegExp(`^${name}: may not write to /data/x`));
  }
  // A refused write nobody declared: its folder is allowed (a temp file goes beside it).
  const hint = writeRefusalHint("generate", ["/w/a.wav.12.tmp"], [], []);
  assert.match(hint, /--allow-write=out,\/w /);
});

Deno.test("deno task train --out /tmp/…: refused before any work; the printed command trains there", async () => {
  await setup();
  const work = await Deno.makeTempDir({ prefix: "permissions-" });
  const cache = nodePath.join(work, "cache");
  await prepare(
    prepareOptions({ data: nodePath.join(ROOT, "audio/sample/en"), out: cache, limit: 2 }),
  );
  const config = nodePath.join(work, "tiny config.json");
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      model: { channels: 8, latentDim: 4, downsampleStages: 1 },
      train: { batch: 2, cropFrames: 16 },
    }),
  );
  const out = nodePath.join(work, "run");
  const args = ["--config", config, "--data", cache, "--out", out, "--steps", "2", "--no-report"];
  const refused = await output("deno", ["task", "--quiet", "train", ...args]);
  assert.equal(refused.code, 64, refused.err);
  assert.ok(!(await Deno.stat(out).catch(() => null)), "nothing may be written before refusing");
  const line = refused.err.split("\n").find((l) => l.trimStart().startsWith("deno run "));
  assert.ok(line, `no command line in:\n${refused.err}`);
  const [deno, ...rest] = shellWords(line);
  assert.equal(deno, "deno");
  assert.ok(rest.includes(`--allow-write=out,${out}`), line);
  const ran = await output(deno, rest);
  assert.equal(ran.code, 0, ran.err);
  assert.equal((await loadCheckpoint(nodePath.join(out, "checkpoint.safetensors"))).state?.step, 2);
  await Deno.remove(work, { recursive: true });
});
