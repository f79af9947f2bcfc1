/**
 * `deno task prepare` with several `--data` sources, as a subprocess: a plain folder and a
 * corpus list are each prepared into `--out/<source name>/<split>`, their broken and missing
 * files named; a source given twice, a split a plain folder does not have and a missing path are
 * refused before any work (exit 64). `deno task corpus` writes a list from rules that reads back
 * as the rules say, with the command that made it and the counts in its comments.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { openSource } from "../../audio/corpus.ts";
import { readCorpusListEntries } from "../../audio/corpus_list.ts";
import { loadCache } from "../../audio/feature_cache.ts";
import { DEFAULT_FEATURES } from "../../audio/features.ts";
import { runScript } from "../util.ts";
import { FIXTURE_DIR } from "./fixtures.ts";

const PERMS = ["--allow-read=.,/tmp,../shared", "--allow-write=/tmp", "--allow-env"];

function runPrepare(args: string[], script = "cli/prepare.ts") {
  return runScript(script, args, PERMS);
}

Deno.test("prepare --data FOLDER --data LIST: one cache per source, broken and missing files named", async () => {
  const work = await Deno.makeTempDir({ prefix: "corpus-prepare-" });
  const plain = nodePath.join(work, "plain");
  await Deno.mkdir(nodePath.join(plain, "x"), { recursive: true });
  for (const name of ["librispeech-1447-130550-0000.flac", "fleurs-es-006.opus.ogg"]) {
    await Deno.copyFile(nodePath.join(FIXTURE_DIR, name), nodePath.join(plain, "x", name));
  }
  await Deno.writeTextFile(nodePath.join(plain, "x", "broken.mp3"), "ID3 but nothing else");
  const list = nodePath.join(work, "dev.corpus.tsv");
  await Deno.writeTextFile(
    list,
    "path\tspeaker\tsplit\n" +
      `${nodePath.relative(work, nodePath.join(FIXTURE_DIR, "jfk-cut.flac"))}\t\tdev\n` +
      "missing.wav\t\tdev\n",
  );
  const out = nodePath.join(work, "caches");
  // Every file of the plain folder is dev (--dev-fraction 1).
  const r = await runPrepare([
    "--data",
    plain,
    "--data",
    list,
    "--split",
    "dev",
    "--dev-fraction",
    "1",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.err);
  const plainCache = nodePath.join(out, (await openSource(plain)).name, "dev");
  const listCache = nodePath.join(out, (await openSource(list)).name, "dev");
  assert.deepEqual(
    (await loadCache(plainCache, DEFAULT_FEATURES)).map((c) => c.path),
    ["x/fleurs-es-006.opus.ogg", "x/librispeech-1447-130550-0000.flac"],
  );
  assert.equal((await loadCache(listCache, DEFAULT_FEATURES)).length, 1);
  assert.match(r.out, new RegExp(`prepared 2 clips .* of ${plain} into ${plainCache}`));
  assert.match(r.out, /skipped 1 clip: x\/broken\.mp3 \(/);
  assert.match(r.out, /skipped 1 clip: missing\.wav \(missing file\)/);

  const refused: [string[], RegExp][] = [
    [["--data", plain, "--data", `${plain}/`], /given twice/],
    [
      ["--data", plain, "--split", "test"],
      /--split test: --data .*plain is a plain folder, whose splits are train and dev/,
    ],
    [["--data", nodePath.join(work, "nope")], /nope: no such file or folder/],
    [["--data", plainCache], /is already a prepared cache/],
  ];
  for (const [args, want] of refused) {
    const bad = await runPrepare([...args, "--out", nodePath.join(work, "refused")]);
    assert.equal(bad.code, 64, `${args.join(" ")}: ${bad.err}`);
    assert.match(bad.err, want);
    assert.ok(!(await Deno.stat(nodePath.join(work, "refused")).catch(() => null)), "wrote first");
  }
  await Deno.remove(work, { recursive: true });
});

Deno.test("deno task corpus writes a list from rules, with its command and counts in comments", async () => {
  const work = await Deno.makeTempDir({ prefix: "corpus-cli-" });
  const data = nodePath.join(work, "speech");
  for (const [dir, name] of [["ls", "1447-130550-0000.flac"], ["ls", "1440-1-0000.flac"]]) {
    await Deno.mkdir(nodePath.join(data, dir), { recursive: true });
    await Deno.copyFile(
      nodePath.join(FIXTURE_DIR, "librispeech-1447-130550-0000.flac"),
      nodePath.join(data, dir, name),
    );
  }
  await Deno.mkdir(nodePath.join(data, "es"));
  await Deno.copyFile(
    nodePath.join(FIXTURE_DIR, "fleurs-es-006.opus.ogg"),
    nodePath.join(data, "es", "a.ogg"),
  );
  const list = nodePath.join(work, "recipes", "r.corpus.tsv");
  const r = await runPrepare(
    ["--data", data, "--out", list, "--exclude", "es/**", "--hold-out-speakers", "librispeech:*0"],
    "cli/corpus.ts",
  );
  assert.equal(r.code, 0, r.err);
  const entries = await Array.fromAsync(readCorpusListEntries(list));
  assert.deepEqual(entries.map((e) => [e.path, e.speaker, e.split]), [
    ["../speech/es/a.ogg", "", "exclude"],
    ["../speech/ls/1440-1-0000.flac", "librispeech:1440", "dev"],
    ["../speech/ls/1447-130550-0000.flac", "librispeech:1447", "train"],
  ]);
  assert.equal(entries[0].seconds, 5.64);
  const text = await Deno.readTextFile(list);
  assert.match(text, /^# corpus list written by: deno task corpus --data .* --exclude 'es\/\*\*'/);
  assert.match(text, /#\s+all\s+1\s+1\.6 s\s+1\s+1\.6 s\s+1\s+5\.6 s\n/);
  assert.match(r.out, /wrote 3 files to /);
  // A bad rule is refused before any work.
  const bad = await runPrepare(
    ["--data", data, "--out", list, "--hold-out-speakers", "1440"],
    "cli/corpus.ts",
  );
  assert.equal(bad.code, 64);
  assert.match(bad.err, /expected CORPUS:GLOB/);
  await Deno.remove(work, { recursive: true });
});
