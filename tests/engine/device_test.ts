/**
 * Device acquisition and GPU error reporting: the no-adapter path through the CLI edge (exit
 * code 3 and a message that says what to install), the adapter report, and a GPU validation
 * error surfacing as a thrown GpuError that names the kernel.
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { BufferPool } from "../../engine/buffer_pool.ts";
import { Kernel } from "../../engine/kernel.ts";
import fillSource from "../../shaders/fill.wgsl" with { type: "text" };
import { deviceOptionsFromEnv, EXIT_NO_ADAPTER } from "../../cli/device_flags.ts";
import { setup } from "../util.ts";

const fixture = new URL("./fixtures/init_no_gpu.ts", import.meta.url).pathname;

/** This Deno binary when we may run it, else `deno` from PATH (`deno task test` grants that). */
function denoBinary(): string {
  const exec = Deno.execPath();
  return Deno.permissions.querySync({ name: "run", command: exec }).state === "granted"
    ? exec
    : "deno";
}

async function runFixture(env: Record<string, string>, args: string[] = []) {
  const out = await new Deno.Command(denoBinary(), {
    args: ["run", "--allow-env", "--allow-read", fixture, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("AUDIO_GEN_NO_GPU=1: init exits with code 3 and says what to install", async () => {
  const r = await runFixture({ AUDIO_GEN_NO_GPU: "1" });
  assert.equal(r.code, EXIT_NO_ADAPTER, `exit code; stderr: ${r.stderr}`);
  assert.equal(EXIT_NO_ADAPTER, 3);
  assert.match(r.stderr, /mesa-vulkan-drivers/);
  assert.match(r.stderr, /AUDIO_GEN_NO_GPU/);
  assert.ok(!r.stdout.includes("initialised"), "the script went on after a failed init");
});

Deno.test("--no-gpu: init exits with code 3", async () => {
  const r = await runFixture({}, ["--no-gpu"]);
  assert.equal(r.code, 3, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, /mesa-vulkan-drivers/);
});

Deno.test("deviceOptionsFromEnv reads the flag and the variable", () => {
  const saved = Deno.env.get("AUDIO_GEN_NO_GPU");
  try {
    Deno.env.delete("AUDIO_GEN_NO_GPU");
    assert.deepEqual(deviceOptionsFromEnv([]), { forceNoAdapter: false });
    assert.deepEqual(deviceOptionsFromEnv(["--no-gpu"]), { forceNoAdapter: true });
    Deno.env.set("AUDIO_GEN_NO_GPU", "1");
    assert.deepEqual(deviceOptionsFromEnv([]), { forceNoAdapter: true });
    Deno.env.set("AUDIO_GEN_NO_GPU", "0");
    assert.deepEqual(deviceOptionsFromEnv([]), { forceNoAdapter: false });
  } finally {
    if (saved === undefined) Deno.env.delete("AUDIO_GEN_NO_GPU");
    else Deno.env.set("AUDIO_GEN_NO_GPU", saved);
  }
});

Deno.test("without the variable the fixture initialises normally", async () => {
  const env = { ...Deno.env.toObject() };
  delete env.AUDIO_GEN_NO_GPU;
  const r = await new Deno.Command(denoBinary(), {
    args: ["run", "--allow-env", "--allow-read", fixture],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, `exit code; stderr: ${stderr}`);
  assert.match(new TextDecoder().decode(r.stdout), /initialised/);
});

Deno.test("NoAdapterError is one paragraph naming the packages", () => {
  const e = new ag.NoAdapterError("test");
  assert.equal(e.name, "NoAdapterError");
  assert.ok(!e.message.includes("\n"), "message should be one paragraph");
  assert.match(e.message, /mesa-vulkan-drivers/);
  assert.match(e.message, /libvulkan1/);
});

Deno.test("adapterReport gives a description and limits", async () => {
  await setup();
  const r = await ag.adapterReport();
  assert.equal(typeof r.description, "string");
  assert.ok(r.description.length > 0 || r.vendor.length > 0, "adapter has neither name nor vendor");
  assert.equal(typeof r.backend, "string");
  assert.equal(typeof r.isFallbackAdapter, "boolean");
  for (
    const k of [
      "maxStorageBufferBindingSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupsPerDimension",
    ]
  ) {
    assert.ok(Number.isFinite(r.limits[k]) && r.limits[k] > 0, `limit ${k} = ${r.limits[k]}`);
  }
  // The engine's kernels need 256-wide workgroups and a 65,535-workgroup grid dimension.
  assert.ok(r.limits.maxComputeInvocationsPerWorkgroup >= 256);
  assert.ok(r.limits.maxComputeWorkgroupsPerDimension >= 65535);
  assert.ok(Array.isArray(r.features));
});

Deno.test("configureDevice after the device exists is refused", async () => {
  await setup();
  assert.throws(() => ag.configureDevice({ forceNoAdapter: true }), /before the device/);
});

Deno.test("a GPU validation error is thrown as GpuError naming the kernel", async () => {
  await setup();
  const kernel = new Kernel("fill_for_error_test", fillSource);
  const runtime = ag.rt();
  // A read-back buffer has no STORAGE usage: binding it as a storage buffer is invalid.
  const wrong = runtime.staging.acquire(256);
  try {
    runtime.dispatch(kernel, { out: wrong }, { n: 4, value: 1 }, [1]);
    await assert.rejects(
      () => runtime.sync(),
      (e: unknown) => {
        assert.ok(e instanceof ag.GpuError, `expected GpuError, got ${e}`);
        assert.match(e.message, /fill_for_error_test/);
        assert.match(e.message, /STORAGE/);
        assert.deepEqual(e.kernels, ["fill_for_error_test"]);
        return true;
      },
    );
  } finally {
    runtime.staging.release(wrong);
  }
  // The error is reported once; the runtime keeps working afterwards.
  const t = ag.tensor([1.5, -2.25, 3], [3]);
  assert.deepEqual([...await t.add(1).toArray()], [2.5, -1.25, 4]);
  t.dispose();
});

Deno.test("a missing buffer binding is a clear synchronous error", async () => {
  await setup();
  const kernel = new Kernel("fill_missing_binding", fillSource);
  assert.throws(
    () => ag.rt().dispatch(kernel, {}, { n: 4, value: 1 }, [1]),
    /fill_missing_binding: no buffer for binding 'out'/,
  );
  const t = ag.tensor([1, 2], [2]);
  assert.deepEqual([...await t.mul(2).toArray()], [2, 4]);
  t.dispose();
});

Deno.test("using the engine before init is a clear error", async () => {
  const r = await new Deno.Command(denoBinary(), {
    args: [
      "run",
      "--allow-env",
      "--allow-read",
      new URL("./fixtures/before_init.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  assert.match(new TextDecoder().decode(r.stdout), /before `await init\(\)`/);
});

Deno.test("a tensor larger than the adapter can bind is refused where it is allocated, naming the limit", async () => {
  await setup();
  const limit = ag.rt().maxBindingBytes;
  assert.equal(limit, ag.rt().device.limits.maxStorageBufferBindingSize);
  const before = ag.counters().buffersCreatedTotal;
  assert.throws(
    () => ag.zeros([Math.floor(limit / 4) + 1]),
    (e: unknown) => {
      assert.ok(e instanceof ag.BufferLimitError, String(e));
      assert.match(
        e.message,
        /larger than this GPU adapter can bind .*maxStorageBufferBindingSize/,
      );
      return true;
    },
  );
  assert.equal(ag.counters().buffersCreatedTotal, before, "a buffer was created anyway");
  // Below the limit, a size bucket never rounds a buffer past it.
  const pool = new BufferPool(ag.rt().device, GPUBufferUsage.STORAGE, "capped", 1000);
  const b = pool.acquire(900);
  assert.equal(b.size, 992, "bucket 1024 capped at the limit (a multiple of 16)");
  pool.release(b);
  pool.destroyIdle();
  assert.equal(pool.counters.buffersAllocated, 0);
});
