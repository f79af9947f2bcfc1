/**
 * Matrix product with PyTorch `matmul` semantics: 1-D operands are promoted (and the added axis
 * removed), leading batch axes broadcast. The kernel (shaders/matmul.wgsl) reads either operand
 * transposed in place, so the gradients dA = g·Bᵀ and dB = Aᵀ·g need no transposed copies.
 * @module
 */
import source from "../../shaders/matmul.wgsl" with { type: "text" };
import tiledSource from "../../shaders/matmul_tiled.wgsl" with { type: "text" };
import {
  sizeBucket,
  TILE_CONFIGS,
  type TileConfig,
  type Tunable,
  tunedChoice,
} from "../autotune.ts";
import { isCpuAdapter } from "../device.ts";
import { Kernel } from "../kernel.ts";
import { rt } from "../runtime.ts";
import { numel, record, Tensor } from "../tensor.ts";
import { broadcastShapes, sumToShape } from "./broadcast.ts";
import { zeros } from "./creation.ts";
import { expand } from "./movement.ts";

const kernel = new Kernel("matmul", source);
const tiledKernel = new Kernel("matmul_tiled", tiledSource);

/**
 * Block of the workgroup-tiled kernel: `wide` = 128 × 128 tiles (8 × 8 outputs per invocation),
 * else 64 × 64 (4 × 4).
 */
export interface TiledConfig {
  wide: boolean;
}

/** Every block the workgroup-tiled kernel supports (tests run each). */
export const TILED_CONFIGS: readonly TiledConfig[] = [{ wide: false }, { wide: true }];

/**
 * The block for an M × N (× batch) product: 128 × 128 tiles (64 FMAs per 4 vec4 reads of
 * workgroup memory) when that still makes at least 128 workgroups — about one per streaming
 * multiprocessor on a large GPU — else 64 × 64 tiles, so that small products still spread over
 * the chip.
 */
export function tiledConfigFor(m: number, n: number, batch: number): TiledConfig {
  return { wide: Math.ceil(m / 128) * Math.ceil(n / 128) * batch >= 128 };
}

/**
 * Untuned default tile config, the fastest of TILE_CONFIGS measured on lavapipe (Mesa 22.3, 2
 * cores, 8-wide SIMD): 16 × 16 blocks (16 accumulator quads, shaders/matmul.wgsl) in 8 × 2
 * workgroups, about 1.5× the 8 × 8 blocks of the previous default on a 1024² product.
 */
export const DEFAULT_MATMUL_CONFIG: TileConfig = { bm: 16, bn: 16, wgX: 8, wgY: 2 };

/** A matmul problem as the autotuner keeps it (a representative of its shape class). */
interface MatmulProblem {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** The register-blocked matmul, for the autotuner. */
export const MATMUL_TUNABLE: Tunable<MatmulProblem> = {
  kernel: "matmul",
  candidates: TILE_CONFIGS,
  prepare({ m, n, k, transA, transB }) {
    const a = zeros(transA ? [1, k, m] : [1, m, k]);
    const b = zeros(transB ? [1, n, k] : [1, k, n]);
    const out = Tensor.empty([1, m, n]);
    const params = { m, n, k, a_batch_stride: 0, b_batch_stride: 0 };
    return {
      run: (c) => dispatchRegisters(c, a, b, out, params, transA, transB),
      dispose: () => [a, b, out].forEach((t) => t.dispose()),
    };
  },
};

/**
 * Which matmul kernel runs: "registers" (shaders/matmul.wgsl: register blocks, vec4 loads,
 * no workgroup memory — fastest on CPU drivers such as lavapipe, where every workgroup-memory
 * access and barrier is a loop over SIMD lanes) or "workgroup" (shaders/matmul_tiled.wgsl: 64×64 to
 * 128×128 tiles staged through workgroup memory with coalesced loads, for GPUs).
 */
export type MatmulVariant = "registers" | "workgroup";

/**
 * The variant in use: the runtime's kernel choice when set, else "registers" on a CPU (fallback)
 * adapter, else "workgroup".
 */
export function matmulVariant(): MatmulVariant {
  return rt().kernelChoices.matmulVariant ?? (isCpuAdapter() ? "registers" : "workgroup");
}

/**
 * out[b] = op(a[b]) · op(b[b]) on 3-D contiguous operands, where a batch of 1 is shared by all.
 * `transA`: a is stored [batch, K, M]; `transB`: b is stored [batch, N, K]. No graph.
 */
export function matmulRaw(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  const [ba, a1, a2] = a.shape;
  const [bb, b1, b2] = b.shape;
  const [m, k] = transA ? [a2, a1] : [a1, a2];
  const [k2, n] = transB ? [b2, b1] : [b1, b2];
  if (k !== k2) {
    throw new Error(`matmul: inner sizes differ (${k} vs ${k2}) for [${a.shape}]·[${b.shape}]`);
  }
  if (ba !== bb && ba !== 1 && bb !== 1) throw new Error(`matmul: batch ${ba} vs ${bb}`);
  const batch = Math.max(ba, bb);
  const out = Tensor.empty([batch, m, n]);
  if (out.size === 0) return out;
  const params = {
    m,
    n,
    k,
    a_batch_stride: ba === 1 ? 0 : m * k,
    b_batch_stride: bb === 1 ? 0 : k * n,
  };
  if (matmulVariant() === "workgroup") {
    const { wide } = rt().kernelChoices.matmulBlock ?? tiledConfigFor(m, n, batch);
    const tile = wide ? 128 : 64;
    rt().dispatch(
      tiledKernel,
      { a: a.buffer, b: b.buffer, out: out.buffer },
      params,
      [Math.ceil(n / tile), Math.ceil(m / tile), batch],
      { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0, WIDE: wide ? 1 : 0 },
    );
    return out;
  }
  const cfg = rt().kernelChoices.matmulTile ??
    tunedChoice(
      MATMUL_TUNABLE,
      `${transA ? "t" : "n"}${transB ? "t" : "n"}/m${sizeBucket(m)}n${sizeBucket(n)}k${
        sizeBucket(k)
      }`,
      { m, n, k, transA, transB },
    ) ??
    DEFAULT_MATMUL_CONFIG;
  dispatchRegisters(cfg, a, b, out, params, transA, transB);
  return out;
}

function dispatchRegisters(
  cfg: TileConfig,
  a: Tensor,
  b: Tensor,
  out: Tensor,
  params: { m: number; n: number; k: number; a_batch_stride: number; b_batch_stride: number },
  transA: boolean,
  transB: boolean,
): void {
  const { m, n, k } = params;
  rt().dispatch(
    kernel,
    { a: a.buffer, b: b.buffer, out: out.buffer },
    params,
    [Math.ceil(n / (cfg.wgX * cfg.bn)), Math.ceil(m / (cfg.wgY * cfg.bm)), out.shape[0]],
    {
      TRANS_A: transA ? 1 : 0,
      TRANS_B: transB ? 1 : 0,
      ALIGN_A: (transA ? m : k) % 4 === 0 ? 1 : 0,
      ALIGN_B: (transB ? k : n) % 4 === 0 ? 1 : 0,
      BM: cfg.bm,
      BN: cfg.bn,
      WG_X: cfg.wgX,
      WG_Y: cfg.wgY,
    },
  );
}

/** Matrix product of `a` and `b` (PyTorch `matmul` rules), differentiable. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new Error("matmul: operands must have at least 1 dim");
  const a2 = a.ndim === 1 ? a.view([1, a.shape[0]]) : a;
  const b2 = b.ndim === 1 ? b.view([b.shape[0], 1]) : b;
  const m = a2.shape[a2.ndim - 2], k = a2.shape[a2.ndim - 1];
  const n = b2.shape[b2.ndim - 1];
  const batchShape = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const batch = numel(batchShape);
  // A batch broadcast other than "shared by all" is materialised once.
  const as3 = (t: Tensor, rows: number, cols: number) => {
    const tb = t.shape.slice(0, -2);
    if (numel(tb) === batch || numel(tb) === 1) return t.view([numel(tb), rows, cols]);
    return expand(t, [...batchShape, rows, cols]).view([batch, rows, cols]);
  };
  const a3 = as3(a2, m, k);
  const b3 = as3(b2, b2.shape[b2.ndim - 2], n);
  const out3 = matmulRaw(a3, b3);
  let outShape = [...batchShape, m, n];
  if (a.ndim === 1) outShape = outShape.filter((_, i) => i !== outShape.length - 2);
  if (b.ndim === 1) outShape = outShape.slice(0, -1);
  const out = out3.view(outShape);
  out3.dispose();
  return record(out, "matmul", [a, b], (g) => {
    const g3 = g.view([batch, m, n]);
    const ga = a.requiresGrad
      ? sumToShape(matmulRaw(g3, b3, false, true).view([...batchShape, m, k]), a2.shape).view(
        a.shape,
      )
      : null;
    const gb = b.requiresGrad
      ? sumToShape(matmulRaw(a3, g3, true, false).view([...batchShape, k, n]), b2.shape).view(
        b.shape,
      )
      : null;
    return [ga, gb];
  });
}
