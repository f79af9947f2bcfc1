/**
 * Matrix product with PyTorch `matmul` semantics: 2-D odd sizes that cross the 64×64 tiles,
 * batched and broadcast-batched operands, 1-D operands; forward against a float64 reference,
 * gradients against finite differences on small shapes and against float64 g·Bᵀ / Aᵀ·g on
 * shapes that cross tiles (exercising the transposed-operand kernel variants).
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { matmulVariant, TILED_CONFIGS } from "../../engine/ops/matmul.ts";
import { TILE_CONFIGS, tileName } from "../../engine/autotune.ts";
import { dispatchesOf } from "./dispatch_log.ts";
import { assertClose, type CheckInput, checkOp, randomArray, setup, size } from "../util.ts";

/** Registers `fn` once per matmul kernel variant (register-blocked and workgroup-tiled). */
function variantTest(name: string, fn: () => Promise<void>): void {
  for (const v of ["registers", "workgroup"] as const) {
    Deno.test(`${name} [${v}]`, async () => {
      await setup();
      await ag.rt().withKernelChoices({ matmulVariant: v }, fn);
    });
  }
}

function inp(shape: number[], seed: number): CheckInput {
  return { data: randomArray(size(shape), seed), shape };
}

/** Batch shape, m, k, n and output shape of matmul(a, b) under PyTorch rules. */
function plan(aShape: number[], bShape: number[]) {
  const a2 = aShape.length === 1 ? [1, aShape[0]] : aShape;
  const b2 = bShape.length === 1 ? [bShape[0], 1] : bShape;
  const [m, k] = a2.slice(-2);
  const [k2, n] = b2.slice(-2);
  assert.equal(k, k2, "test shapes must agree");
  const ab = a2.slice(0, -2), bb = b2.slice(0, -2);
  const rank = Math.max(ab.length, bb.length);
  const pa = [...Array(rank - ab.length).fill(1), ...ab];
  const pb = [...Array(rank - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  let outShape = [...batch, m, n];
  if (aShape.length === 1) outShape = outShape.filter((_, i) => i !== outShape.length - 2);
  if (bShape.length === 1) outShape = outShape.slice(0, -1);
  return { pa, pb, batch, m, k, n, outShape };
}

/** Batch-flat offset of batch index `idx` in a (broadcast) batch shape `own`. */
function batchOffset(idx: number[], own: number[]): number {
  let f = 0;
  for (let i = 0; i < own.length; i++) f = f * own[i] + (own[i] === 1 ? 0 : idx[i]);
  return f;
}

/** Plain float64 matmul with broadcasting batches and 1-D promotion. */
function matmulRef(aShape: number[], bShape: number[]) {
  const { pa, pb, batch, m, k, n } = plan(aShape, bShape);
  return (a: Float64Array, b: Float64Array) => {
    const nb = size(batch);
    const out = new Float64Array(nb * m * n);
    const idx = new Array<number>(batch.length).fill(0);
    for (let t = 0; t < nb; t++) {
      let rest = t;
      for (let q = batch.length - 1; q >= 0; q--) {
        idx[q] = rest % batch[q];
        rest = Math.floor(rest / batch[q]);
      }
      const ao = batchOffset(idx, pa) * m * k, bo = batchOffset(idx, pb) * k * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[ao + i * k + p] * b[bo + p * n + j];
          out[(t * m + i) * n + j] = s;
        }
      }
    }
    return out;
  };
}

function checkMatmul(aShape: number[], bShape: number[], grad: boolean, seed = 1) {
  const { outShape } = plan(aShape, bShape);
  return checkOp(
    `matmul [${aShape}]·[${bShape}]`,
    [inp(aShape, seed), inp(bShape, seed + 1)],
    (a, b) => {
      const y = a.matmul(b);
      assert.deepEqual(y.shape, outShape, "output shape");
      return y;
    },
    matmulRef(aShape, bShape),
    { grad },
  );
}

variantTest("matmul 2-D forward: 1×1×1 and sizes crossing 64-tiles", async () => {
  await setup();
  for (
    const [m, k, n] of [[1, 1, 1], [67, 33, 71], [130, 65, 129], [64, 16, 64], [3, 200, 2]]
  ) {
    await checkMatmul([m, k], [k, n], false, m + k + n);
  }
});

variantTest("matmul 2-D gradient (finite differences)", async () => {
  await setup();
  for (const [m, k, n] of [[1, 1, 1], [5, 7, 3], [9, 17, 4], [2, 1, 6]]) {
    await checkMatmul([m, k], [k, n], true, m * k * n);
  }
});

variantTest("matmul batched and broadcast-batched forward", async () => {
  await setup();
  await checkMatmul([3, 17, 19], [3, 19, 23], false);
  await checkMatmul([2, 1, 5, 6], [4, 6, 7], false);
  await checkMatmul([5, 6], [4, 6, 7], false); // 2-D shared by every batch
  await checkMatmul([4, 5, 6], [6, 7], false);
  await checkMatmul([1, 5, 6], [4, 6, 7], false); // batch of 1 shared
  await checkMatmul([3, 1, 67, 9], [1, 2, 9, 70], false);
});

variantTest("matmul batched and broadcast-batched gradient", async () => {
  await setup();
  await checkMatmul([3, 4, 5], [3, 5, 2], true);
  await checkMatmul([2, 1, 3, 4], [3, 4, 2], true);
  await checkMatmul([3, 4], [2, 4, 5], true);
  await checkMatmul([2, 3, 4], [4, 3], true);
  await checkMatmul([1, 3, 4], [2, 4, 3], true);
});

variantTest("matmul with 1-D operands", async () => {
  await setup();
  await checkMatmul([7], [7, 5], true); // → [5]
  await checkMatmul([5, 7], [7], true); // → [5]
  await checkMatmul([6], [6], true); // → []
  await checkMatmul([2, 5, 7], [7], true); // → [2, 5]
  await checkMatmul([7], [3, 7, 4], true); // → [3, 4]
  await checkMatmul([70], [70, 129], false);
});

/** dA = g·Bᵀ and dB = Aᵀ·g against float64 on shapes crossing tiles (transposed variants). */
async function checkTransposedGrads(): Promise<void> {
  // Sizes multiple of 4 take the aligned vec4 loads; the others the shifted ones.
  for (
    const [batchA, batchB, m, k, n] of [
      [1, 1, 130, 65, 129],
      [3, 1, 67, 70, 5],
      [2, 2, 72, 36, 68],
    ]
  ) {
    await ag.tidy(async () => {
      const aShape = batchA === 1 ? [m, k] : [batchA, m, k];
      const bShape = batchB === 1 ? [k, n] : [batchB, k, n];
      const a64 = Float64Array.from(Float32Array.from(randomArray(size(aShape), 5)));
      const b64 = Float64Array.from(Float32Array.from(randomArray(size(bShape), 6)));
      const batch = Math.max(batchA, batchB);
      const g64 = Float64Array.from(Float32Array.from(randomArray(batch * m * n, 7)));
      const a = ag.tensor(Float32Array.from(a64), aShape, { requiresGrad: true });
      const b = ag.tensor(Float32Array.from(b64), bShape, { requiresGrad: true });
      const out = a.matmul(b);
      out.backward(ag.tensor(Float32Array.from(g64), out.shape));
      const ga = new Float64Array(a64.length), gb = new Float64Array(b64.length);
      for (let t = 0; t < batch; t++) {
        const ao = batchA === 1 ? 0 : t * m * k, bo = batchB === 1 ? 0 : t * k * n;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const g = g64[(t * m + i) * n + j];
            for (let p = 0; p < k; p++) {
              ga[ao + i * k + p] += g * b64[bo + p * n + j];
              gb[bo + p * n + j] += g * a64[ao + i * k + p];
            }
          }
        }
      }
      assertClose(await a.grad!.toArray(), ga, 1e-4, `dA [${aShape}]·[${bShape}]`);
      assertClose(await b.grad!.toArray(), gb, 1e-4, `dB [${aShape}]·[${bShape}]`);
    });
  }
}

variantTest("matmul gradients across tiles equal g·Bᵀ and Aᵀ·g", async () => {
  await setup();
  await checkTransposedGrads();
});

/** Odd and edge shapes, plain, batched-broadcast and transposed (through the gradients). */
async function checkTileCases(): Promise<void> {
  for (const [m, k, n] of [[1, 1, 1], [67, 33, 71], [130, 65, 129], [3, 200, 2], [9, 4, 5]]) {
    await checkMatmul([m, k], [k, n], false, m + k + n);
  }
  await checkMatmul([3, 1, 67, 9], [1, 2, 9, 70], false);
  await checkMatmul([70], [70, 129], false);
  await checkTransposedGrads();
}

// Every tile configuration of the register-blocked kernel (the autotuner may pick any).
for (const c of TILE_CONFIGS) {
  Deno.test(`matmul register tiles ${tileName(c)}: edges, batches, transposes`, async () => {
    await setup();
    await ag.rt().withKernelChoices({ matmulVariant: "registers", matmulTile: c }, checkTileCases);
  });
}

// Every block of the workgroup-tiled kernel (chosen by shape on GPUs) on the same cases.
for (const c of TILED_CONFIGS) {
  Deno.test(`matmul workgroup tiles ${c.wide ? 128 : 64}²: edges, batches, transposes`, async () => {
    await setup();
    await ag.rt().withKernelChoices({ matmulVariant: "workgroup", matmulBlock: c }, checkTileCases);
  });
}

Deno.test("matmul's kernel choices are the runtime's, restored after the call, even a throwing one", async () => {
  await setup();
  const runtime = ag.rt();
  const product = () => ag.tidy(() => ag.ones([67, 33]).matmul(ag.ones([33, 70])).toArray());
  const tile = TILE_CONFIGS.find((c) => tileName(c) === "8x16/8x2")!;
  const registers = await dispatchesOf(() =>
    runtime.withKernelChoices({ matmulVariant: "registers", matmulTile: tile }, product)
  );
  const used = registers.dispatches.filter((d) => d.kernel === "matmul");
  assert.equal(used.length, 1);
  const { BM, BN, WG_X, WG_Y } = used[0].constants;
  assert.deepEqual({ bm: BM, bn: BN, wgX: WG_X, wgY: WG_Y }, tile);
  for (const wide of [false, true]) {
    const tiled = await dispatchesOf(() =>
      runtime.withKernelChoices({ matmulVariant: "workgroup", matmulBlock: { wide } }, product)
    );
    const kernels = tiled.dispatches.filter((d) => d.kernel.startsWith("matmul"));
    assert.deepEqual(kernels.map((d) => [d.kernel, d.constants.WIDE]), [
      ["matmul_tiled", wide ? 1 : 0],
    ]);
    assert.ok(tiled.result.every((v) => v === 33));
  }
  // Restored: after the calls and after one that throws.
  const byAdapter = matmulVariant();
  await assert.rejects(
    runtime.withKernelChoices({ matmulVariant: "workgroup", convTile: tile }, () => {
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(matmulVariant(), byAdapter);
  assert.deepEqual(runtime.kernelChoices, {
    matmulVariant: null,
    matmulTile: null,
    matmulBlock: null,
    convTile: null,
    fftVariant: null,
  });
});

Deno.test("matmul rejects mismatched shapes with a clear error", async () => {
  await setup();
  await ag.tidy(() => {
    assert.throws(
      () => ag.zeros([3, 4]).matmul(ag.zeros([5, 2])),
      /inner sizes differ \(4 vs 5\)/,
    );
    assert.throws(() => ag.zeros([2, 3, 4]).matmul(ag.zeros([3, 4, 2])), /cannot be broadcast/);
    assert.throws(() => ag.scalar(2).matmul(ag.zeros([2])), /at least 1 dim/);
  });
});

variantTest("matmul with a zero-size inner dimension gives zeros", async () => {
  await setup();
  await ag.tidy(async () => {
    const y = ag.zeros([3, 0]).matmul(ag.zeros([0, 2]));
    assert.deepEqual(y.shape, [3, 2]);
    assert.deepEqual([...await y.toArray()], [0, 0, 0, 0, 0, 0]);
  });
});
