/**
 * The autotuner (engine/autotune.ts): it times candidates and keeps the fastest, takes a stored
 * choice without timing, tunes the shape classes ops met once enabled, and round-trips its
 * choices through a store — in memory, and through cli/tune_store.ts's JSON file when the test
 * may write (a temp directory).
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import {
  enableAutotune,
  MemoryTuneStore,
  resetAutotune,
  TILE_CONFIGS,
  tileByName,
  tileName,
  tune,
  tunedChoice,
  tunedChoices,
  tunePending,
} from "../../engine/autotune.ts";
import { MATMUL_TUNABLE } from "../../engine/ops/matmul.ts";
import { adapterHash, FileTuneStore } from "../../cli/tune_store.ts";
import { assertClose, randomArray, setup } from "../util.ts";

const FEW = TILE_CONFIGS.filter((c) => ["4x4/8x2", "8x8/16x4", "16x16/8x2"].includes(tileName(c)));
// The test task may write under /tmp only (Deno.makeTempDir's default there); a query without a
// path asks for all of the file system and would skip the file-store test everywhere.
const canWrite = Deno.permissions.querySync({ name: "write", path: "/tmp" }).state === "granted";

async function matmulAgainstCpu(m: number, k: number, n: number): Promise<void> {
  const ad = randomArray(m * k, 3), bd = randomArray(k * n, 4);
  const ref = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += ad[i * k + p] * bd[p * n + j];
      ref[i * n + j] = s;
    }
  }
  await ag.tidy(async () => {
    const y = ag.tensor(Float32Array.from(ad), [m, k]).matmul(
      ag.tensor(Float32Array.from(bd), [k, n]),
    );
    assertClose(await y.toArray(), ref, 1e-4, `matmul ${m}×${k}·${k}×${n}`);
  });
}

Deno.test("autotune: times candidates, keeps one, writes it to the store", async () => {
  await setup();
  resetAutotune();
  const store = new MemoryTuneStore();
  enableAutotune({ store });
  try {
    const problem = { m: 67, n: 70, k: 33, transA: false, transB: false };
    const c = await tune(MATMUL_TUNABLE, "test/a", problem, { candidates: FEW, rounds: 1 });
    assert.ok(FEW.includes(c), `chose one of the candidates, got ${tileName(c)}`);
    assert.equal(await store.get("matmul/test/a"), tileName(c));
    assert.equal(tunedChoice(MATMUL_TUNABLE, "test/a", problem), c);
  } finally {
    resetAutotune();
  }
});

Deno.test("autotune: a stored choice is taken without timing", async () => {
  await setup();
  resetAutotune();
  const store = new MemoryTuneStore();
  await store.set("matmul/test/b", "16x8/8x2");
  enableAutotune({ store });
  try {
    const c = await tune(MATMUL_TUNABLE, "test/b", {
      m: 8,
      n: 8,
      k: 8,
      transA: false,
      transB: false,
    });
    assert.equal(tileName(c), "16x8/8x2");
    // A stale name (not a candidate) is ignored and replaced by a timed choice.
    await store.set("matmul/test/c", "3x3/1x1");
    const d = await tune(
      MATMUL_TUNABLE,
      "test/c",
      { m: 9, n: 5, k: 4, transA: true, transB: true },
      {
        candidates: FEW,
        rounds: 1,
      },
    );
    assert.ok(tileByName(await store.get("matmul/test/c")) === d);
  } finally {
    resetAutotune();
  }
});

Deno.test("autotune: off by default; once enabled, ops' shape classes are tuned", async () => {
  await setup();
  resetAutotune();
  // The tuner covers the register-blocked matmul (the one CPU adapters run); choose it so that
  // the test means the same on a GPU adapter, where the workgroup-tiled variant is the default.
  await ag.rt().withKernelChoices({ matmulVariant: "registers" }, async () => {
    await matmulAgainstCpu(37, 21, 45); // not enabled: nothing noted
    assert.deepEqual(await tunePending(), {});
    const store = new MemoryTuneStore();
    enableAutotune({ store });
    await matmulAgainstCpu(37, 21, 45);
    await ag.tidy(async () => {
      const y = ag.conv1d(ag.randn([2, 6, 30], { seed: 1 }), ag.randn([10, 6, 3], { seed: 2 }));
      await y.toArray();
    });
    const made = await tunePending({ candidates: FEW, rounds: 1 });
    const keys = Object.keys(made).sort();
    assert.ok(keys.some((k) => k.startsWith("matmul/nn/")), `matmul tuned: ${keys}`);
    assert.ok(keys.some((k) => k.startsWith("conv/0/")), `conv forward tuned: ${keys}`);
    for (const k of keys) assert.equal(await store.get(k), made[k]);
    assert.deepEqual(tunedChoices(), made);
    assert.deepEqual(await tunePending(), {}, "nothing left to tune");
    await matmulAgainstCpu(37, 21, 45); // runs with the tuned config
  }).finally(resetAutotune);
});

Deno.test({
  name: "autotune: choices round-trip through the JSON file store",
  ignore: !canWrite,
  async fn() {
    await setup();
    resetAutotune();
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/tune/${adapterHash("test adapter")}.json`;
      enableAutotune({ store: new FileTuneStore(path) });
      const problem = { m: 20, n: 12, k: 9, transA: false, transB: true };
      const c = await tune(MATMUL_TUNABLE, "test/file", problem, { candidates: FEW, rounds: 1 });
      const json = JSON.parse(await Deno.readTextFile(path));
      assert.deepEqual(json, { "matmul/test/file": tileName(c) });
      // A new process (fresh memory) reads it back without timing.
      resetAutotune();
      enableAutotune({ store: new FileTuneStore(path) });
      assert.equal(tunedChoice(MATMUL_TUNABLE, "test/file", problem), undefined);
      assert.equal(await tune(MATMUL_TUNABLE, "test/file", problem, { candidates: [] }), c);
    } finally {
      resetAutotune();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("autotune: adapter hashes are stable and distinct", () => {
  assert.equal(adapterHash("llvmpipe"), adapterHash("llvmpipe"));
  assert.notEqual(adapterHash("llvmpipe (LLVM 15)"), adapterHash("llvmpipe (LLVM 16)"));
  assert.match(adapterHash(""), /^[0-9a-f]{8}$/);
});
