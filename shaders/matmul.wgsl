// Batched matrix product out[b] = op(A[b]) · op(B[b]), f32, row-major.
//   A: [batch, M, K] (or [batch, K, M] when TRANS_A = 1), batch stride a_batch_stride (0 = shared)
//   B: [batch, K, N] (or [batch, N, K] when TRANS_B = 1), batch stride b_batch_stride (0 = shared)
//   out: [batch, M, N] contiguous.
// A and B are read as vec4: on lavapipe (Mesa 22.3) every storage or workgroup load is a loop
// over the SIMD lanes, so a vec4 costs about what a scalar does, while FMAs are cheap. Hence no
// workgroup memory and no barriers: each invocation loads its operands straight from the buffers
// and holds an 8 × 8 block of out (16 vec4 accumulators); K advances 4 at a time, so one step is
// 16 vec4 loads for 256 FMAs. ALIGN_A / ALIGN_B = 1 when the contiguous axis of that operand is a
// multiple of 4 (every vec4 aligned); otherwise a vec4 is shifted out of two aligned ones. K, row
// and column edges are clamped or masked, so any M, N, K work. Workgroup 8 × 8 invocations
// (64, eight 8-lane SIMD rows) covers a 64 × 64 tile. Grid: (ceil(N/64), ceil(M/64), batch).
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
  let row0 = gid.y * 8u;
  let col0 = gid.x * 8u;
  let m = params.m;
  let n = params.n;
  let kdim = params.k;
  let a_base = batch * params.a_batch_stride;
  let b_base = batch * params.b_batch_stride;
  var acc: array<vec4<f32>, 16>; // [row i][column half h]
  for (var kb = 0u; kb < kdim; kb += 4u) {
    let kmask = vec4<u32>(kb, kb + 1u, kb + 2u, kb + 3u) < vec4<u32>(kdim);
    // av[i][t] = A(row0 + i, kb + t) when not transposed; av[2t + q][c] = A(row0 + 4q + c, kb + t).
    var av: array<vec4<f32>, 8>;
    var bv: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
      if (TRANS_A == 1u) {
        let t = i / 2u;
        let v = load_a4(a_base + min(kb + t, kdim - 1u) * m + row0 + (i % 2u) * 4u);
        av[i] = select(vec4<f32>(0.0), v, kmask[t]);
      } else {
        av[i] = select(vec4<f32>(0.0), load_a4(a_base + min(row0 + i, m - 1u) * kdim + kb), kmask);
      }
      if (TRANS_B == 1u) {
        bv[i] = select(vec4<f32>(0.0), load_b4(b_base + min(col0 + i, n - 1u) * kdim + kb), kmask);
      } else {
        let t = i / 2u;
        let v = load_b4(b_base + min(kb + t, kdim - 1u) * n + col0 + (i % 2u) * 4u);
        bv[i] = select(vec4<f32>(0.0), v, kmask[t]);
      }
    }
    for (var t = 0u; t < 4u; t++) {
      var b_lo: vec4<f32>;
      var b_hi: vec4<f32>;
      if (TRANS_B == 1u) {
        b_lo = vec4<f32>(bv[0][t], bv[1][t], bv[2][t], bv[3][t]);
        b_hi = vec4<f32>(bv[4][t], bv[5][t], bv[6][t], bv[7][t]);
      } else {
        b_lo = bv[2u * t];
        b_hi = bv[2u * t + 1u];
      }
      for (var i = 0u; i < 8u; i++) {
        var ai: f32;
        if (TRANS_A == 1u) {
          ai = av[2u * t + i / 4u][i % 4u];
        } else {
          ai = av[i][t];
        }
        acc[2u * i] = fma(vec4<f32>(ai), b_lo, acc[2u * i]);
        acc[2u * i + 1u] = fma(vec4<f32>(ai), b_hi, acc[2u * i + 1u]);
      }
    }
  }
  let out_base = batch * m * n;
  for (var i = 0u; i < 8u; i++) {
    let row = row0 + i;
    if (row < m) {
      for (var j = 0u; j < 8u; j++) {
        let col = col0 + j;
        if (col < n) {
          out[out_base + row * n + col] = acc[2u * i + j / 4u][j % 4u];
        }
      }
    }
  }
}
