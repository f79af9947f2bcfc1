// Batched matrix product out[b] = op(A[b]) · op(B[b]), f32, row-major.
//   A: [batch, M, K] (or [batch, K, M] when TRANS_A = 1), batch stride a_batch_stride (0 = shared)
//   B: [batch, K, N] (or [batch, N, K] when TRANS_B = 1), batch stride b_batch_stride (0 = shared)
//   out: [batch, M, N] contiguous.
// A and B are read as vec4: on lavapipe (Mesa 22.3) every storage or workgroup load is a loop
// over the SIMD lanes, so a vec4 costs about what a scalar does, while FMAs are cheap. Hence no
// workgroup memory and no barriers: each invocation loads its operands straight from the buffers
// and holds a BM × BN block of out (BM·BN/4 vec4 accumulators); K advances 4 at a time, so one
// step is BM + BN vec4 loads for BM·BN·4 FMAs. ALIGN_A / ALIGN_B = 1 when the contiguous axis of
// that operand is a multiple of 4 (every vec4 aligned); otherwise a vec4 is shifted out of two
// aligned ones. K, row and column edges are clamped or masked, so any M, N, K work.
// Tunables (override constants, chosen per adapter by engine/ops/matmul.ts and
// engine/autotune.ts): BM, BN ∈ {4, 8} rows and columns per invocation (arrays are sized for
// 8 × 8; the unused tail is dead code once the constants are known); WG_X × WG_Y invocations
// per workgroup cover a (WG_Y·BM) × (WG_X·BN) tile. Grid: (ceil(N/(WG_X·BN)),
// ceil(M/(WG_Y·BM)), batch). On lavapipe 4 × 8 wins: 8 vec4 accumulators plus 12 operand vec4s
// stay in registers, where 8 × 8 (16 + 16) spills and runs about half as fast.
// Dispatched by engine/ops/matmul.ts.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  a_batch_stride: u32,
  b_batch_stride: u32,
}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override ALIGN_A: u32 = 0u;
override ALIGN_B: u32 = 0u;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override BM: u32 = 8u;
override BN: u32 = 8u;

fn shift4(lo: vec4<f32>, hi: vec4<f32>, r: u32) -> vec4<f32> {
  let v1 = vec4<f32>(lo.yzw, hi.x);
  let v2 = vec4<f32>(lo.zw, hi.xy);
  let v3 = vec4<f32>(lo.w, hi.xyz);
  return select(select(select(lo, v1, r == 1u), v2, r == 2u), v3, r == 3u);
}

fn load_a4(idx: u32) -> vec4<f32> {
  let q = idx / 4u;
  if (ALIGN_A == 1u) {
    return a[q];
  }
  return shift4(a[q], a[q + 1u], idx % 4u);
}

fn load_b4(idx: u32) -> vec4<f32> {
  let q = idx / 4u;
  if (ALIGN_B == 1u) {
    return b[q];
  }
  return shift4(b[q], b[q + 1u], idx % 4u);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let batch = gid.z;
  let row0 = gid.y * BM;
  let col0 = gid.x * BN;
  let m = params.m;
  let n = params.n;
  let kdim = params.k;
  let a_base = batch * params.a_batch_stride;
  let b_base = batch * params.b_batch_stride;
  let hm = BM / 4u; // vec4s per block column (A transposed)
  let hn = BN / 4u; // vec4s per block row
  var acc: array<vec4<f32>, 16>; // acc[i·hn + h] = out(row0 + i, col0 + 4h .. 4h + 3)
  for (var kb = 0u; kb < kdim; kb += 4u) {
    let kmask = vec4<u32>(kb, kb + 1u, kb + 2u, kb + 3u) < vec4<u32>(kdim);
    // Not transposed: av[i][t] = A(row0 + i, kb + t); transposed: av[t·hm + q][c] =
    // A(row0 + 4q + c, kb + t). Likewise bv[t·hn + h][c] = B(kb + t, col0 + 4h + c), or
    // transposed bv[j][t] = B(kb + t, col0 + j).
    var av: array<vec4<f32>, 8>;
    var bv: array<vec4<f32>, 8>;
    for (var i = 0u; i < BM; i++) {
      if (TRANS_A == 1u) {
        let t = i / hm;
        let v = load_a4(a_base + min(kb + t, kdim - 1u) * m + row0 + (i % hm) * 4u);
        av[i] = select(vec4<f32>(0.0), v, kmask[t]);
      } else {
        av[i] = select(vec4<f32>(0.0), load_a4(a_base + min(row0 + i, m - 1u) * kdim + kb), kmask);
      }
    }
    for (var j = 0u; j < BN; j++) {
      if (TRANS_B == 1u) {
        bv[j] = select(vec4<f32>(0.0), load_b4(b_base + min(col0 + j, n - 1u) * kdim + kb), kmask);
      } else {
        let t = j / hn;
        let v = load_b4(b_base + min(kb + t, kdim - 1u) * n + col0 + (j % hn) * 4u);
        bv[j] = select(vec4<f32>(0.0), v, kmask[t]);
      }
    }
    for (var t = 0u; t < 4u; t++) {
      // Row t of the B block: columns col0 .. col0 + 3 in b_lo, col0 + 4 .. + 7 in b_hi (BN = 8).
      var b_lo: vec4<f32>;
      var b_hi: vec4<f32>;
      if (TRANS_B == 1u) {
        b_lo = vec4<f32>(bv[0][t], bv[1][t], bv[2][t], bv[3][t]);
        b_hi = vec4<f32>(bv[4][t], bv[5][t], bv[6][t], bv[7][t]);
      } else {
        b_lo = bv[t * hn];
        b_hi = bv[t * hn + 1u];
      }
      for (var i = 0u; i < BM; i++) {
        var ai: f32;
        if (TRANS_A == 1u) {
          ai = av[t * hm + i / 4u][i % 4u];
        } else {
          ai = av[i][t];
        }
        acc[i * hn] = fma(vec4<f32>(ai), b_lo, acc[i * hn]);
        if (BN == 8u) {
          acc[i * hn + 1u] = fma(vec4<f32>(ai), b_hi, acc[i * hn + 1u]);
        }
      }
    }
  }
  let out_base = batch * m * n;
  for (var i = 0u; i < BM; i++) {
    let row = row0 + i;
    if (row < m) {
      for (var j = 0u; j < BN; j++) {
        let col = col0 + j;
        if (col < n) {
          out[out_base + row * n + col] = acc[i * hn + j / 4u][j % 4u];
        }
      }
    }
  }
}
