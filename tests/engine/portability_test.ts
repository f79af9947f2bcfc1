/**
 * The engine and the model code must bundle for a browser page: no `Deno.*` anywhere in what
 * they import (files, FFI, flags and signals live in cli/, io/ and the named I/O edges). The
 * entry points are every module under engine/, vae/ and vocoder/ except the named edges, plus the audio/
 * modules a browser page needs; the test walks the relative-import graph from them and fails
 * naming the file and line.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Model code that is a Deno edge by design: it reads and writes checkpoint or corpus files. */
const VAE_IO_EDGES = ["vae/checkpoint.ts", "vocoder/checkpoint.ts", "vocoder/corpus.ts"];

/** The audio/ modules a browser page needs (the rest read files, decode on Workers or use FFI). */
const BROWSER_AUDIO = [
  "audio/features.ts",
  "audio/mel.ts",
  "audio/vad.ts",
  "audio/resample.ts",
  "audio/samples.ts",
  "audio/metrics.ts",
  "audio/vocoder.ts",
  "audio/wav.ts",
];

/** Every .ts file under `dir` (relative to the root), recursively. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(nodePath.join(ROOT, dir))) {
    const path = nodePath.join(dir, e.name);
    if (e.isDirectory) out.push(...await tsFiles(path));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** engine/, vae/ and vocoder/ but the named edges, and the browser's audio modules. */
async function portableEntryPoints(): Promise<string[]> {
  const models = [...await tsFiles("vae"), ...await tsFiles("vocoder")]
    .filter((f) => !VAE_IO_EDGES.includes(f));
  return [...await tsFiles("engine"), ...models, ...BROWSER_AUDIO];
}

/** Source without comments and string contents, so only code is searched. */
function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "))
    .replace(/\/\/[^\n]*/g, "")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
}

Deno.test("engine/ and the model code use no Deno APIs, directly or through imports", async () => {
  const seen = new Set<string>();
  const entryPoints = await portableEntryPoints();
  for (
    const must of [
      "engine/mod.ts",
      "vae/adapt.ts",
      "vae/trainer.ts",
      "vocoder/model.ts",
      "audio/vad.ts",
    ]
  ) {
    assert.ok(entryPoints.includes(must), `${must} is not scanned`);
  }
  const queue = entryPoints.map((p) => nodePath.join(ROOT, p));
  const problems: string[] = [];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await Deno.readTextFile(file);
    for (const m of source.matchAll(/(?:import|export)[^;]*?from\s+"(\.{1,2}\/[^"]+)"/g)) {
      if (m[1].endsWith(".ts")) queue.push(nodePath.resolve(nodePath.dirname(file), m[1]));
    }
    codeOnly(source).split("\n").forEach((line, i) => {
      if (/\bDeno\s*\./.test(line)) {
        problems.push(`${nodePath.relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.ok(seen.size > 30, `walked only ${seen.size} files`);
  assert.deepEqual(problems, [], `Deno APIs in portable code:\n${problems.join("\n")}`);
});

Deno.test("the scan sees Deno APIs where they are (the edges it leaves out)", async () => {
  // Each named edge really is one (else it belongs back in the scan), and the scan would see it.
  for (const edge of [...VAE_IO_EDGES, "io/atomic_file.ts"]) {
    const source = codeOnly(await Deno.readTextFile(nodePath.join(ROOT, edge)));
    assert.match(source, /\bDeno\s*\./, `${edge} uses no Deno API: scan it as portable`);
  }
});
