/**
 * The engine and the model code must bundle for a browser page: no `Deno.*` anywhere in what
 * they import (files, FFI, flags and signals live in cli/ and the audio I/O edges). This walks
 * the relative-import graph from each portable entry point and fails naming the file and line.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const PORTABLE_ENTRY_POINTS = [
  "engine/mod.ts",
  "vae/model.ts",
  "vae/elbo.ts",
  "vae/data.ts",
  "vae/trainer.ts",
  "vae/sampling.ts",
  "vae/safetensors.ts",
  "vae/report.ts",
  "audio/features.ts",
  "audio/vocoder.ts",
  "audio/metrics.ts",
  "audio/wav.ts",
  "audio/resample.ts",
];

/** Source without comments and string contents, so only code is searched. */
function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "))
    .replace(/\/\/[^\n]*/g, "")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
}

Deno.test("engine/ and the model code use no Deno APIs, directly or through imports", async () => {
  const seen = new Set<string>();
  const queue = PORTABLE_ENTRY_POINTS.map((p) => nodePath.join(ROOT, p));
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

Deno.test("the scan sees Deno APIs where they are (the edges)", async () => {
  const source = codeOnly(await Deno.readTextFile(nodePath.join(ROOT, "io/atomic_file.ts")));
  assert.match(source, /\bDeno\s*\.\s*open/);
});
