/**
 * cli/serve.ts: the handler (MIME types, the page at `/`, the base checkpoint, refusals of
 * paths that climb out, other methods, a policy that keeps the page to its own origin), and the
 * command itself run with the serve task's permissions: it prints the URL and serves there.
 * @module
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { CONTENT_SECURITY_POLICY, mimeType, serveHandler } from "../../cli/serve.ts";
import { ROOT } from "./browser.ts";

async function fixture(): Promise<{ dist: string; checkpoint: string }> {
  const dir = await Deno.makeTempDir({ prefix: "serve-test-" });
  const dist = nodePath.join(dir, "dist");
  await Deno.mkdir(nodePath.join(dist, "sub"), { recursive: true });
  await Deno.writeTextFile(nodePath.join(dist, "index.html"), "<!doctype html><p>page</p>");
  await Deno.writeTextFile(nodePath.join(dist, "main.js"), "console.log(1);");
  await Deno.writeTextFile(nodePath.join(dist, "style.css"), "p{}");
  await Deno.writeTextFile(nodePath.join(dist, "sub", "x.map"), "{}");
  await Deno.writeTextFile(nodePath.join(dir, "secret.txt"), "outside dist");
  const checkpoint = nodePath.join(dir, "base.safetensors");
  await Deno.writeFile(checkpoint, new Uint8Array([1, 2, 3, 4, 5]));
  return { dist, checkpoint };
}

Deno.test("serve: files with their MIME types, the checkpoint, and a same-origin policy", async () => {
  const { dist, checkpoint } = await fixture();
  const vocoder = nodePath.join(nodePath.dirname(checkpoint), "vocoder.safetensors");
  await Deno.writeFile(vocoder, new Uint8Array([6, 7, 8]));
  const handle = serveHandler({ dist, checkpoint, vocoder });
  const get = (path: string, method = "GET") =>
    handle(new Request(`http://127.0.0.1:8000${path}`, { method }));
  const cases: [string, string, string][] = [
    ["/", "text/html; charset=utf-8", "<!doctype html><p>page</p>"],
    ["/main.js", "text/javascript; charset=utf-8", "console.log(1);"],
    ["/style.css", "text/css; charset=utf-8", "p{}"],
    ["/sub/x.map", "application/json; charset=utf-8", "{}"],
  ];
  for (const [path, type, body] of cases) {
    const res = await get(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), type, path);
    assert.equal(res.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
    assert.equal(await res.text(), body, path);
  }
  const voc = await get("/vocoder.safetensors");
  assert.equal(voc.status, 200);
  assert.deepEqual(new Uint8Array(await voc.arrayBuffer()), new Uint8Array([6, 7, 8]));
  const ckpt = await get("/base.safetensors");
  assert.equal(ckpt.headers.get("content-type"), "application/octet-stream");
  assert.deepEqual(new Uint8Array(await ckpt.arrayBuffer()), new Uint8Array([1, 2, 3, 4, 5]));
  const head = await get("/main.js", "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "15");
  assert.equal(await head.text(), "");
  assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /https?:|\*/);
  assert.equal(mimeType("a.wasm"), "application/wasm");
  assert.equal(mimeType("a.unknown"), "application/octet-stream");
});

Deno.test("serve: refuses paths out of the page's folder, other methods, and missing files", async () => {
  const { dist } = await fixture();
  const handle = serveHandler({ dist, checkpoint: null });
  const status = async (path: string, method = "GET") => {
    const res = await handle(new Request(`http://127.0.0.1:8000${path}`, { method }));
    assert.doesNotMatch(await res.text(), /outside dist/, path);
    return res.status;
  };
  // The URL parser folds dot segments (even encoded ones) before the handler sees them...
  assert.equal(await status("/%2e%2e/secret.txt"), 404);
  assert.equal(await status("/sub/%2E%2E/%2e%2e/secret.txt"), 404);
  // ...but not an encoded slash, which only decoding reveals.
  assert.equal(await status("/..%2fsecret.txt"), 400);
  assert.equal(await status("/sub/..%2F..%2Fsecret.txt"), 400);
  assert.equal(await status("/%00"), 400);
  assert.equal(await status("/%zz"), 400);
  assert.equal(await status("/nope.js"), 404);
  assert.equal(await status("/sub"), 404, "a folder is not a file");
  assert.equal(await status("/base.safetensors"), 404, "no checkpoint given");
  assert.equal(await status("/vocoder.safetensors"), 404, "no vocoder given");
  assert.equal(await status("/", "POST"), 405);
});

/** The serve task's command from deno.json (without the build it runs first). */
async function serveCommand(): Promise<string[]> {
  const tasks = JSON.parse(await Deno.readTextFile(nodePath.join(ROOT, "deno.json"))).tasks;
  const serve = String(tasks.serve).split("&&").pop()!.trim().split(/\s+/);
  assert.equal(serve[0], "deno");
  return serve;
}

Deno.test("deno task serve prints its URL and serves the page and the checkpoint there", async () => {
  const { dist, checkpoint } = await fixture();
  const [cmd, ...args] = await serveCommand();
  const child = new Deno.Command(cmd, {
    args: [...args, "--port", "0", "--dist", dist, "--checkpoint", checkpoint],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/http:\/\/127\.0\.0\.1:\d+\//.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited before printing its URL: ${out}`);
      out += value;
    }
    const url = out.match(/http:\/\/127\.0\.0\.1:\d+\//)![0];
    const page = await fetch(url);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(await page.text(), /page/);
    const ckpt = await fetch(`${url}base.safetensors`);
    assert.equal((await ckpt.arrayBuffer()).byteLength, 5);
    reader.releaseLock();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
  }
});

Deno.test("deno task serve refuses a missing --checkpoint or an unbuilt page, saying what to do", async () => {
  const { dist } = await fixture();
  const [cmd, ...args] = await serveCommand();
  const run = async (extra: string[]) => {
    const out = await new Deno.Command(cmd, { args: [...args, ...extra], cwd: ROOT }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  const missing = await run(["--port", "0", "--dist", dist, "--checkpoint", "/nope.safetensors"]);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /--checkpoint \/nope\.safetensors: no such file/);
  const unbuilt = await run(["--port", "0", "--dist", nodePath.join(dist, "sub")]);
  assert.equal(unbuilt.code, 64);
  assert.match(unbuilt.stderr, /run `deno task build:web` first/);
});
