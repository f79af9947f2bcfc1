/**
 * The FFI bindings against the real libasound with no hardware: an ALSA `type file` PCM over
 * the `null` plugin plays a raw S16_LE file as a microphone (HOME/.asoundrc written here).
 * The FFI runs in a child `deno run` with the listen task's permissions (the test task has no
 * --allow-ffi). Skipped, with a message, where libasound does not load.
 * @module
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { errorText } from "../../audio/alsa.ts";

const ROOT = nodePath.resolve(nodePath.dirname(new URL(import.meta.url).pathname), "../..");
const FLAGS = ["--allow-read", "--allow-ffi=/usr/lib,/usr/lib64,/lib,/lib64,/usr/local/lib"];

async function child(code: string, home: string) {
  const out = await new Deno.Command("deno", {
    args: ["eval", "--ext=ts", code],
    cwd: ROOT,
    env: { HOME: home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

async function runScript(code: string, home: string) {
  const file = nodePath.join(home, "probe.ts");
  await Deno.writeTextFile(file, code);
  const out = await new Deno.Command("deno", {
    args: ["run", ...FLAGS, file],
    cwd: ROOT,
    env: { HOME: home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

const tmp = await Deno.makeTempDir({ prefix: "alsa-test-" });
const HAVE_ALSA =
  (await child("import { openAlsaLibrary } from './audio/alsa.ts'; openAlsaLibrary();", tmp))
    .code === 0;
if (!HAVE_ALSA) console.error("alsa_test: skipped (libasound.so.2 does not load here)");
const ALSA = `${ROOT}/audio/alsa.ts`;

Deno.test("errorText names common ALSA errors", () => {
  assert.equal(errorText(-5), "Input/output error");
  assert.match(errorText(-32), /overrun/);
  assert.equal(errorText(-9999), "error -9999");
});

Deno.test({
  name: "alsa: a file-backed fake mic is read through snd_pcm_readi at the asked rate",
  ignore: !HAVE_ALSA,
  async fn() {
    const n = 48000 * 2;
    const raw = new Int16Array(n).map((_, i) => (i * 37) % 20000 - 10000);
    await Deno.writeFile(nodePath.join(tmp, "mic.s16"), new Uint8Array(raw.buffer));
    await Deno.writeTextFile(
      nodePath.join(tmp, ".asoundrc"),
      `pcm.fakemic { type file slave.pcm "null" file "/dev/null" infile "${tmp}/mic.s16" format "raw" }\n`,
    );
    const r = await runScript(
      `import { AlsaCapture } from "${ALSA}";
const c = AlsaCapture.open({ device: "fakemic", rate: 48000 });
const buf = new Int16Array(c.periodFrames), got = [];
let total = 0;
while (total < ${n}) { const k = await c.read(buf); got.push(...buf.subarray(0, k)); total += k; }
await c.close(); await c.close();
console.log(JSON.stringify({ rate: c.rate, period: c.periodFrames, overruns: c.overruns, got: got.slice(0, ${n}) }));`,
      tmp,
    );
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.got.length, n);
    assert.equal(o.rate, 48000);
    assert.equal(o.overruns, 0);
    assert.ok(o.period > 0);
    assert.deepEqual(o.got, [...raw]);
  },
});

Deno.test({
  name: "alsa: missing device and missing library give errors that name them",
  ignore: !HAVE_ALSA,
  async fn() {
    const r = await runScript(
      `import { AlsaCapture } from "${ALSA}";
for (const o of [{ device: "nosuchmic" }, { library: "libasound-missing.so.2" }]) {
  try { AlsaCapture.open(o); } catch (e) { console.log(e.name + ": " + e.message.split("\\n").join(" | ")); }
}`,
      tmp,
    );
    assert.equal(r.code, 0, r.stderr);
    const [dev, lib] = r.stdout.trim().split("\n");
    assert.match(dev, /^AlsaDeviceError: .*"nosuchmic".*arecord -L/);
    assert.match(
      lib,
      /^AlsaLibraryError: .*libasound-missing\.so\.2.*apt install libasound2.*--input/,
    );
  },
});
