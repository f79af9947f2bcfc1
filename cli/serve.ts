/**
 * `deno task serve [--checkpoint F] [--port N] [--dist DIR]`: serves the browser page (built by
 * `deno task build:web` into web/dist/) and a base checkpoint as `/base.safetensors` on
 * 127.0.0.1, with `Deno.serve` and no framework, and prints the URL. The checkpoint defaults to
 * the shipped base model ({@link DEFAULT_BASE_MODEL}); when that file is missing the page is
 * still served and says so (a person can pick or drop a checkpoint file there), and the command
 * prints which `--checkpoint` to pass. Responses carry their MIME type, `no-cache`, and a
 * Content-Security-Policy that lets the page load nothing from outside its own origin.
 * @module
 */
import * as nodePath from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../vae/config.ts";
import { numberFlag, parseFlags, runCommand } from "./args.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The shipped base model, served when no `--checkpoint` is given. */
export const DEFAULT_BASE_MODEL = "models/base.safetensors";
/** The shipped neural vocoder, served when no `--vocoder` is given and the file is there. */
export const DEFAULT_VOCODER = "models/vocoder.safetensors";

const USAGE = `usage: deno task serve [--checkpoint F] [--vocoder F] [--port 8000] [--dist web/dist]
  --checkpoint  the base model the page loads (default ${DEFAULT_BASE_MODEL}, the shipped one;
                e.g. out/run/checkpoint.safetensors from deno task train)
  --vocoder     the neural vocoder the page's sounds go through (default ${DEFAULT_VOCODER}
                when it is there; without one, Griffin-Lim)
  --port        port on 127.0.0.1 (default 8000; 0 picks a free one)
  --dist        the built page (default web/dist, made by deno task build:web)`;

/** MIME types by file extension. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream",
};

/** Everything from the page's own origin, nothing from anywhere else. */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data: blob:; " +
  "media-src 'self' blob:; worker-src 'self'; connect-src 'self'; object-src 'none'; " +
  "base-uri 'none'; frame-ancestors 'none'";

/** What the handler serves. */
export interface ServeOptions {
  /** The built page's folder. */
  dist: string;
  /** The checkpoint served as /base.safetensors (null: none, the page asks for a file). */
  checkpoint: string | null;
  /** The neural vocoder served as /vocoder.safetensors (null: none, the page uses Griffin-Lim). */
  vocoder?: string | null;
}

/** The MIME type of a file name (octet-stream for anything unknown). */
export function mimeType(name: string): string {
  return MIME_TYPES[nodePath.extname(name).toLowerCase()] ?? "application/octet-stream";
}

function plain(status: number, text: string): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache" },
  });
}

/**
 * The request handler: GET or HEAD of `/` (index.html), a file in `dist`, or
 * `/base.safetensors`. Paths that climb out of `dist` or hide a `..` are refused.
 */
export function serveHandler(opts: ServeOptions): (req: Request) => Promise<Response> {
  const dist = nodePath.resolve(opts.dist);
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url).pathname);
    } catch {
      return plain(400, "bad path");
    }
    if (path.split("/").includes("..") || path.includes("\0")) return plain(400, "bad path");
    let file: string;
    if (path === "/base.safetensors") {
      if (!opts.checkpoint) return plain(404, "this server has no base model");
      file = opts.checkpoint;
    } else if (path === "/vocoder.safetensors") {
      if (!opts.vocoder) return plain(404, "this server has no vocoder");
      file = opts.vocoder;
    } else {
      file = nodePath.join(dist, path === "/" ? "index.html" : path);
      if (!file.startsWith(dist + nodePath.sep)) return plain(400, "bad path");
    }
    let handle: Deno.FsFile;
    try {
      handle = await Deno.open(file, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return plain(404, `not found: ${path}`);
      throw e;
    }
    const info = await handle.stat();
    if (!info.isFile) {
      handle.close();
      return plain(404, `not found: ${path}`);
    }
    const headers = {
      "content-type": mimeType(file),
      "content-length": String(info.size),
      "cache-control": "no-cache",
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
    };
    if (req.method === "HEAD") {
      handle.close();
      return new Response(null, { headers });
    }
    return new Response(handle.readable, { headers });
  };
}

const exists = (p: string) => Deno.stat(p).then((s) => s.isFile, () => false);

if (import.meta.main) {
  await runCommand("serve", USAGE, async () => {
    const values = parseFlags(Deno.args, {
      checkpoint: { type: "string" },
      vocoder: { type: "string" },
      port: { type: "string", default: "8000" },
      dist: { type: "string", default: nodePath.join(ROOT, "web/dist") },
    });
    const port = numberFlag("port", values.port, { min: 0, integer: true })!;
    if (!(await exists(nodePath.join(values.dist, "index.html")))) {
      throw new ConfigError(
        `${values.dist} holds no built page (index.html); run \`deno task build:web\` first`,
      );
    }
    let checkpoint: string | null = values.checkpoint ?? nodePath.join(ROOT, DEFAULT_BASE_MODEL);
    if (!(await exists(checkpoint))) {
      if (values.checkpoint) throw new ConfigError(`--checkpoint ${checkpoint}: no such file`);
      console.error(
        `serve: the shipped base model ${DEFAULT_BASE_MODEL} is not there, so the page will ` +
          "ask for a checkpoint file. To serve one, pass --checkpoint F (e.g. " +
          "--checkpoint out/run/checkpoint.safetensors after `deno task train`).",
      );
      checkpoint = null;
    }
    let vocoder: string | null = values.vocoder ?? nodePath.join(ROOT, DEFAULT_VOCODER);
    if (!(await exists(vocoder))) {
      if (values.vocoder) throw new ConfigError(`--vocoder ${vocoder}: no such file`);
      vocoder = null;
    }
    let server: Deno.HttpServer;
    try {
      server = Deno.serve({
        hostname: "127.0.0.1",
        port,
        onListen: ({ port }) => {
          console.log(`serving the page at http://127.0.0.1:${port}/`);
          console.log(`base model: ${checkpoint ?? "none (the page asks for a file)"}`);
          console.log(`vocoder: ${vocoder ?? "none (the page uses Griffin-Lim)"}`);
          console.log("open it in a browser with WebGPU; Ctrl-C stops the server");
        },
      }, serveHandler({ dist: values.dist, checkpoint, vocoder }));
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new ConfigError(`port ${port} is in use; pass --port N (0 picks a free one)`);
      }
      throw e;
    }
    await server.finished;
  });
}
