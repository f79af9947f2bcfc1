/**
 * `deno task prepare` end to end, as a subprocess: writes a cache on the bundled sample and on
 * the real CV mini set; SIGKILL half way then a rerun gives the same bytes as an uninterrupted
 * run; a stale cache is refused; broken clips are skipped and named, and `--strict` turns that
 * into exit code 2; a bad command line is refused before any work; three `--part I/3` runs and
 * `--merge` give the clips, features (byte for byte) and statistics of one run.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { loadCache, readCacheIndex } from "../../audio/feature_cache.ts";
import { DEFAULT_FEATURES } from "../../audio/features.ts";
import { commandOutput } from "../util.ts";
import { pathExists, REAL_CV_DIR, SAMPLE_DIR } from "./fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PERMS = ["--allow-read=.,/tmp,../shared", "--allow-write=/tmp", "--allow-env"];

function prepareCommand(args: string[]): Deno.Command {
  return new Deno.Command("deno", {
    args: ["run", ...PERMS, "cli/prepare.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  });
}

function runPrepare(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return commandOutput(prepareCommand(args));
}

async function readDir(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) files.set(e.name, await Deno.readFile(nodePath.join(dir, e.name)));
  }
  return files;
}

Deno.test("prepare writes a loadable cache of the bundled sample", async () => {
  const out = await Deno.makeTempDir({ prefix: "prepare-sample-" });
  const r = await runPrepare(["--out", out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /prepared 40 clips/);
  assert.match(r.out, /skipped 0 clips/);
  const clips = await loadCache(out, DEFAULT_FEATURES);
  assert.equal(clips.length, 40);
  for (const c of clips) {
    assert.equal(c.mel.length, c.frames * 80);
    assert.ok(c.mel.every(Number.isFinite), `${c.path} has non-finite features`);
    assert.equal(c.frames, 1 + Math.floor(Math.round(c.durationSeconds * 16000) / 256));
  }
  // Speech has structure: frame energies vary by orders of magnitude.
  const m = clips[0].mel;
  assert.ok(Math.max(...m) - Math.min(...m) > 10, "log-mel range is implausibly flat");
  // Asking again finds the complete cache and does no work.
  const again = await runPrepare(["--out", out]);
  assert.equal(again.code, 0, again.err);
  await Deno.remove(out, { recursive: true });
});

Deno.test("prepare on the real Common Voice mini set", async () => {
  if (!(await pathExists(REAL_CV_DIR))) {
    console.warn(`skip: ${REAL_CV_DIR} is absent`);
    return;
  }
  const out = await Deno.makeTempDir({ prefix: "prepare-real-" });
  const r = await runPrepare(["--data", REAL_CV_DIR, "--split", "validated", "--out", out]);
  assert.equal(r.code, 0, r.err);
  const clips = await loadCache(out, DEFAULT_FEATURES);
  assert.ok(clips.length >= 90, `only ${clips.length} of 99 real clips prepared`);
  await Deno.remove(out, { recursive: true });
});

Deno.test("SIGKILL half way, then a rerun, gives the same cache as one uninterrupted run", async () => {
  const straight = await Deno.makeTempDir({ prefix: "prepare-straight-" });
  const resumed = await Deno.makeTempDir({ prefix: "prepare-resumed-" });
  const args = ["--clips-per-shard", "2"];
  assert.equal((await runPrepare([...args, "--out", straight])).code, 0);

  const child = prepareCommand([...args, "--out", resumed]).spawn();
  // Wait until a few shards are on disk, then kill without warning.
  let shards = 0;
  for (let i = 0; i < 600 && shards < 4; i++) {
    await new Promise((r) => setTimeout(r, 50));
    shards = 0;
    for await (const e of Deno.readDir(resumed)) if (e.name.endsWith(".f16")) shards++;
  }
  child.kill("SIGKILL");
  const status = await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  assert.ok(
    !status.success,
    "prepare finished before it could be killed; the test needs more shards",
  );
  assert.ok(shards >= 4 && shards < 20, `killed with ${shards} of 20 shards`);

  const r = await runPrepare([...args, "--out", resumed]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /resumed at shard \d+/);
  const a = await readDir(straight), b = await readDir(resumed);
  assert.deepEqual(
    [...b.keys()].sort(),
    [...a.keys()].sort(),
    "different files (left-over temp files?)",
  );
  for (const [name, bytes] of a) assert.deepEqual(b.get(name), bytes, `${name} differs`);
  await Deno.remove(straight, { recursive: true });
  await Deno.remove(resumed, { recursive: true });
});

Deno.test("a cache made with other features or another plan is refused, not misread", async () => {
  const out = await Deno.makeTempDir({ prefix: "prepare-stale-" });
  assert.equal((await runPrepare(["--out", out, "--limit", "4"])).code, 0);
  const other = await runPrepare(["--out", out, "--limit", "6"]);
  assert.equal(other.code, 1);
  assert.match(other.err, /different clip list or split.*refused/);
  const indexPath = nodePath.join(out, "index.json");
  const index = JSON.parse(await Deno.readTextFile(indexPath));
  index.features.nMels = 64;
  await Deno.writeTextFile(indexPath, JSON.stringify(index));
  const stale = await runPrepare(["--out", out, "--limit", "4"]);
  assert.equal(stale.code, 1);
  assert.match(stale.err, /different feature config/);
  await assert.rejects(() => loadCache(out, DEFAULT_FEATURES), /different feature config/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("broken clips are skipped and named; --strict exits 2", async () => {
  const data = await Deno.makeTempDir({ prefix: "prepare-broken-" });
  await Deno.mkdir(nodePath.join(data, "clips"));
  const tsv = (await Deno.readTextFile(nodePath.join(SAMPLE_DIR, "train.tsv"))).trimEnd().split(
    "\n",
  );
  const rows = tsv.slice(1, 4).map((line) => line.split("\t"));
  for (const r of rows) {
    await Deno.copyFile(
      nodePath.join(SAMPLE_DIR, "clips", r[1]),
      nodePath.join(data, "clips", r[1]),
    );
  }
  // One clip replaced by text, one truncated to a few bytes.
  await Deno.writeTextFile(nodePath.join(data, "clips", rows[1][1]), "this is not audio\n");
  const whole = await Deno.readFile(nodePath.join(SAMPLE_DIR, "clips", rows[2][1]));
  await Deno.writeFile(
    nodePath.join(data, "clips", rows[2][1]),
    whole.subarray(0, whole.length / 3),
  );
  await Deno.writeTextFile(
    nodePath.join(data, "train.tsv"),
    [tsv[0], ...rows.map((r) => r.join("\t"))].join("\n") + "\n",
  );
  await Deno.writeTextFile(nodePath.join(data, "dev.tsv"), tsv[0] + "\n");
  await Deno.writeTextFile(nodePath.join(data, "test.tsv"), tsv[0] + "\n");
  const out = await Deno.makeTempDir({ prefix: "prepare-broken-out-" });
  const r = await runPrepare(["--data", data, "--out", out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /prepared 1 clips/);
  assert.match(r.out, /skipped 2 clips: /);
  assert.ok(r.out.includes(rows[1][1]) && r.out.includes(rows[2][1]), r.out);
  const strict = await runPrepare(["--data", data, "--out", out, "--strict"]);
  assert.equal(strict.code, 2);
  await Deno.remove(data, { recursive: true });
  await Deno.remove(out, { recursive: true });
});

Deno.test("a bad command line is refused before any work", async () => {
  const out = await Deno.makeTempDir({ prefix: "prepare-usage-" });
  for (
    const args of [["--bogus"], ["--split", "nope"], ["--max-seconds", "x"], [
      "--data",
      "/nonexistent",
    ]]
  ) {
    const r = await runPrepare([...args, "--out", out]);
    assert.equal(r.code, 64, `${args}: ${r.err}`);
    assert.match(r.err, /prepare: |usage/);
  }
  assert.equal(
    [...(await readDir(out)).keys()].length,
    0,
    "work started despite a bad command line",
  );
  await Deno.remove(out, { recursive: true });
});

/** Every clip's name and its binary16 feature bytes (as the shard stores them), by name. */
async function clipBytes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const c of await loadCache(dir, DEFAULT_FEATURES)) {
    // f32 from binary16 is exact, so the f32 bytes stand for the stored ones one to one.
    out.set(
      c.path,
      Array.from(new Uint8Array(c.mel.buffer, c.mel.byteOffset, c.mel.byteLength)).join(),
    );
  }
  return out;
}

Deno.test("--part I/3 three times and --merge give the cache of one run (same bytes)", async () => {
  const one = await Deno.makeTempDir({ prefix: "prepare-one-" });
  const parted = await Deno.makeTempDir({ prefix: "prepare-parts-" });
  const args = ["--data", REAL_CV_DIR, "--split", "validated", "--limit", "30"];
  const data = (await pathExists(REAL_CV_DIR)) ? args : ["--limit", "30"];
  assert.equal((await runPrepare([...data, "--out", one])).code, 0);
  // The parts run in any order (as an Indexed Job's pods do); merging before all are there is
  // refused, naming what is missing.
  for (const i of [2, 0]) {
    const r = await runPrepare([...data, "--out", parted, "--part", `${i}/3`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`into ${parted}/part-${i}-of-3`));
  }
  const early = await runPrepare(["--merge", "--out", parted]);
  assert.equal(early.code, 64, early.err);
  assert.match(early.err, /lacks part-1-of-3: run prepare --part 1\/3/);
  assert.equal((await runPrepare([...data, "--out", parted, "--part", "1/3"])).code, 0);
  const merged = await runPrepare(["--merge", "--out", parted]);
  assert.equal(merged.code, 0, merged.err);
  assert.match(merged.out, /merged 3 parts into .*: 30 clips/);

  const a = await clipBytes(one), b = await clipBytes(parted);
  assert.equal(a.size, 30);
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), "different clips");
  for (const [name, bytes] of a) assert.equal(b.get(name), bytes, `${name}: features differ`);
  const indexA = (await readCacheIndex(one))!, indexB = (await readCacheIndex(parted))!;
  // Every part holds some of the clips (a hash slice, not all in one).
  for (let i = 0; i < 3; i++) {
    const part = (await readCacheIndex(nodePath.join(parted, `part-${i}-of-3`)))!;
    const clips = part.shards.reduce((n, s) => n + s.clips, 0);
    assert.ok(clips > 0 && clips < 30, `part ${i} holds ${clips} of 30 clips`);
  }
  // The statistics are summed exactly, so they are those of one run to the last bit.
  assert.deepEqual(indexB.stats, indexA.stats);
  assert.equal(indexB.plannedClips, indexA.plannedClips);
  // Merging again rewrites the same index; a part of another count is refused.
  const before = await Deno.readTextFile(nodePath.join(parted, "index.json"));
  assert.equal((await runPrepare(["--merge", "--out", parted])).code, 0);
  assert.equal(await Deno.readTextFile(nodePath.join(parted, "index.json")), before);
  await Deno.mkdir(nodePath.join(parted, "part-0-of-2"));
  const mixed = await runPrepare(["--merge", "--out", parted]);
  assert.equal(mixed.code, 64);
  assert.match(mixed.err, /parts of different counts/);
  for (const bad of ["3/3", "x", "1/0", "-1/2"]) {
    const r = await runPrepare([...data, "--out", parted, "--part", bad]);
    assert.equal(r.code, 64, `--part ${bad}: ${r.err}`);
    assert.match(r.err, /--part/);
  }
  await Deno.remove(one, { recursive: true });
  await Deno.remove(parted, { recursive: true });
});
