/**
 * `deno task build:web` run as the task runs it (its own flags, from deno.json): the bundle holds
 * the page, the worker and the AudioWorklet, every WGSL kernel inlined, no Deno API and no
 * address outside the page's own origin. Also the import-map aliases it gives esbuild, and the
 * rule that keeps the WGSL acceptable to Chrome's compiler.
 * @module
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { ENTRY_POINTS, npmAliases, STATIC_FILES } from "../../cli/build_web.ts";
import { buildPage, ROOT } from "./browser.ts";

Deno.test("build:web bundles the page, the worker and the worklet with the WGSL inlined", async () => {
  const dist = await buildPage();
  const names = [...Deno.readDirSync(dist)].map((e) => e.name).sort();
  for (const name of Object.keys(ENTRY_POINTS)) assert.ok(names.includes(`${name}.js`), name);
  for (const f of STATIC_FILES) assert.ok(names.includes(nodePath.basename(f)), f);
  const read = (n: string) => Deno.readTextFileSync(nodePath.join(dist, n));
  const scripts = names.filter((n) => n.endsWith(".js")).map((n) => [n, read(n)] as const);
  for (const [name, code] of scripts) {
    assert.doesNotMatch(code, /\bDeno\.[a-zA-Z]/, `${name} calls a Deno API`);
    assert.doesNotMatch(code, /\bfrom\s*["'](?:https?:|npm:|jsr:|node:)/, `${name} imports by URL`);
    // A shader's file name may appear as a label; fetching, importing or resolving one may not.
    assert.doesNotMatch(
      code,
      /importScripts|(?:fetch|import|new URL)\(\s*[^)]*\.wgsl/,
      `${name} loads files at run time`,
    );
    // Addresses appear only in the help text that names where to open the page.
    for (const m of code.matchAll(/https?:\/\/[^\s"'`)<]*/g)) {
      assert.match(m[0], /^https?:\/\/(127\.0\.0\.1)?[.,]?$/, `${name} names ${m[0]}`);
    }
  }
  // Every kernel's source is in the worker (minification keeps string contents).
  const worker = read("worker.js");
  for (const entry of Deno.readDirSync(nodePath.join(ROOT, "shaders"))) {
    const wgsl = Deno.readTextFileSync(nodePath.join(ROOT, "shaders", entry.name));
    const line = wgsl.split("\n").find((l) => /^fn \w+\(/.test(l))!;
    assert.ok(worker.includes(line), `${entry.name} is not inlined (looked for "${line}")`);
  }
  const html = read("index.html");
  for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    assert.ok(src === "data:," || !/^[a-z]+:/i.test(src), `index.html loads ${src}`);
    if (src !== "data:,") assert.ok(names.includes(src), `index.html needs ${src}, not built`);
  }
  const { size } = Deno.statSync(nodePath.join(dist, "worker.js"));
  console.log(`worker.js ${(size / 1024).toFixed(1)} KiB`);
});

Deno.test("npm: entries of the import map become esbuild aliases into node_modules", () => {
  assert.deepEqual(
    npmAliases({
      wgsl_reflect: "npm:wgsl_reflect@1.6.0/wgsl_reflect.module.js",
      "@tensorflow/tfjs-core": "npm:@tensorflow/tfjs-core@4.22.0",
      "fft.js": "npm:fft.js@4.0.4",
      plain: "npm:plain",
      local: "./local.ts",
      std: "jsr:@std/path@1",
    }),
    {
      wgsl_reflect: "wgsl_reflect/wgsl_reflect.module.js",
      "@tensorflow/tfjs-core": "@tensorflow/tfjs-core",
      "fft.js": "fft.js",
      plain: "plain",
    },
  );
});

/** Bit patterns whose f32 is ±inf or NaN (all exponent bits set). */
function nonFinite(bits: number): boolean {
  return ((bits >>> 23) & 0xff) === 0xff;
}

Deno.test("no WGSL constant expression is a non-finite f32 (Chrome's compiler rejects them)", async () => {
  const found: string[] = [];
  for await (const entry of Deno.readDir(nodePath.join(ROOT, "shaders"))) {
    const wgsl = (await Deno.readTextFile(nodePath.join(ROOT, "shaders", entry.name)))
      .replace(/\/\/[^\n]*/g, ""); // code only: the comments may quote what not to write
    for (const m of wgsl.matchAll(/bitcast<f32>\(\s*(0x[0-9a-fA-F]+)u?\s*\)/g)) {
      if (nonFinite(Number(m[1]))) found.push(`${entry.name}: ${m[0]}`);
    }
  }
  assert.deepEqual(found, [], "read the bits from a variable instead (see shaders/reduce.wgsl)");
  assert.ok(nonFinite(0xff800000) && nonFinite(0x7fc00000) && !nonFinite(0x3f800000));
});
