/**
 * `deno task build:web [--out DIR] [--no-minify]`: bundles the browser page with esbuild (the
 * pinned npm package) into `web/dist/` (default): `main.js` (the page), `worker.js` (the engine,
 * the model, log-mel features, voice activity and the adaptation loop: the same source files Deno
 * runs), `capture_worklet.js` (the AudioWorklet), plus `index.html` and `style.css`. WGSL imported
 * `with { type: "text" }` is inlined as strings; npm packages are resolved through deno.json's
 * import map and `node_modules/`, so nothing is fetched from anywhere at run time. Prints each
 * file's size, raw and gzipped.
 * @module
 */
import * as esbuild from "esbuild";
import * as nodePath from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags, runCommand } from "./args.ts";

const USAGE = "usage: deno task build:web [--out DIR] [--no-minify]";

/** The repository root (this file's parent folder's parent). */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Bundle entry points: output name → source. */
export const ENTRY_POINTS: Readonly<Record<string, string>> = {
  main: "web/main.ts",
  worker: "web/worker.ts",
  capture_worklet: "web/capture_worklet.ts",
};

/** Files copied as they are. */
export const STATIC_FILES: readonly string[] = ["web/index.html", "web/style.css"];

/** One output file and its size. */
export interface BuiltFile {
  name: string;
  bytes: number;
  gzipBytes: number;
}

/**
 * esbuild aliases for the `npm:` entries of deno.json's import map:
 * `"wgsl_reflect": "npm:wgsl_reflect@1.6.0/wgsl_reflect.module.js"` → `wgsl_reflect/wgsl_reflect.module.js`
 * (resolved in node_modules/, where `deno install` put the pinned version).
 */
export function npmAliases(imports: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(imports)) {
    const m = spec.match(/^npm:(@[^/@]+\/[^/@]+|[^/@]+)(?:@[^/]+)?(\/.*)?$/);
    if (m) out[name] = m[1] + (m[2] ?? "");
  }
  return out;
}

async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Builds the page into `outDir` (emptied first); returns the files written. */
export async function buildWeb(outDir: string, minify = true): Promise<BuiltFile[]> {
  const denoJson = JSON.parse(await Deno.readTextFile(nodePath.join(ROOT, "deno.json")));
  await Deno.remove(outDir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.mkdir(outDir, { recursive: true });
  try {
    await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: Object.fromEntries(
        Object.entries(ENTRY_POINTS).map(([k, v]) => [k, nodePath.join(ROOT, v)]),
      ),
      outdir: outDir,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      loader: { ".wgsl": "text" },
      alias: npmAliases(denoJson.imports ?? {}),
      minify,
      sourcemap: "linked",
      legalComments: "none",
      logLevel: "warning",
    });
  } finally {
    await esbuild.stop();
  }
  for (const f of STATIC_FILES) {
    await Deno.copyFile(nodePath.join(ROOT, f), nodePath.join(outDir, nodePath.basename(f)));
  }
  const files: BuiltFile[] = [];
  for await (const entry of Deno.readDir(outDir)) {
    if (!entry.isFile || entry.name.endsWith(".map")) continue;
    const bytes = await Deno.readFile(nodePath.join(outDir, entry.name));
    files.push({ name: entry.name, bytes: bytes.length, gzipBytes: await gzipSize(bytes) });
  }
  return files.sort((a, b) => b.bytes - a.bytes);
}

if (import.meta.main) {
  await runCommand("build:web", USAGE, async () => {
    const values = parseFlags(Deno.args, {
      out: { type: "string", default: nodePath.join(ROOT, "web/dist") },
      "no-minify": { type: "boolean", default: false },
    });
    const files = await buildWeb(nodePath.resolve(values.out), !values["no-minify"]);
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    for (const f of files) {
      console.log(`${f.name.padEnd(22)} ${kb(f.bytes).padStart(11)}  (${kb(f.gzipBytes)} gzip)`);
    }
    const total = files.reduce((s, f) => [s[0] + f.bytes, s[1] + f.gzipBytes], [0, 0]);
    console.log(`${"total".padEnd(22)} ${kb(total[0]).padStart(11)}  (${kb(total[1])} gzip)`);
    console.log(`built ${values.out}`);
  });
}
