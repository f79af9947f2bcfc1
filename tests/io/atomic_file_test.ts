/**
 * Tests for io/atomic_file.ts: writeFileAtomic leaves either the old or the new file and no
 * temp file of its own; a temp file a killed writer left behind neither blocks nor corrupts.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { writeFileAtomic, WriteFileError } from "../../io/atomic_file.ts";

Deno.test("writeFileAtomic replaces the file whole and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atomic-" });
  const path = nodePath.join(dir, "f.bin");
  await writeFileAtomic(path, "first version, longer than the second");
  await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]), "not truncated");
  // A temp file a killed writer left behind (another pid) neither blocks nor corrupts a write.
  const stale = `${path}.999999.tmp`;
  await Deno.writeTextFile(stale, "half-writ");
  const big = new Uint8Array(3 << 20).map((_, i) => i * 7);
  await writeFileAtomic(path, big);
  assert.deepEqual(await Deno.readFile(path), big);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, ["f.bin", "f.bin.999999.tmp"], "own temp file left behind");
  // A failed write (folder gone) throws naming the destination, not its temp file, and does
  // not touch the old target.
  const gone = nodePath.join(dir, "no", "such", "f");
  await assert.rejects(writeFileAtomic(gone, "x"), (e: unknown) => {
    assert.ok(e instanceof WriteFileError, String(e));
    assert.match(e.message, new RegExp(`^cannot write ${gone}: .*No such file`));
    assert.doesNotMatch(e.message, /\.tmp/);
    return true;
  });
  // A folder where the file should go: the same, and its temp file is removed.
  await Deno.mkdir(nodePath.join(dir, "a-folder"));
  await assert.rejects(
    writeFileAtomic(nodePath.join(dir, "a-folder"), "x"),
    /cannot write .*a-folder: .*(directory|folder)/i,
  );
  assert.deepEqual(await Deno.readFile(path), big);
  await Deno.remove(dir, { recursive: true });
});
