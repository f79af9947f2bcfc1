// Batched matrix product out[b] = op(A[b]) · op(B[b]), f32, row-major — the workgroup-memory
// tiled variant for GPUs (shaders/matmul.wgsl is the register-blocked one for CPU drivers such as
// lavapipe, where workgroup memory and barriers cost more than they save; engine/ops/matmul.ts
// picks one per adapter).
//   A: [batch, M, K] (or [batch, K, M] when TRANS_A = 1), batch stride a_batch_stride (0 = shared)
//   B: [batch, K, N] (or [batch, N, K] when TRANS_B = 1), batch stride b_batch_stride (0 = shared)
//   out: [batch, M, N] contiguous.
// Tiling: each workgroup (16 × 16 invocations: 256, a full occupancy unit on common GPUs)
// computes a 64 × 64 tile of out; each invocation a 4 × 4 block held in registers. K advances 16
// at a time through two tiles in workgroup memory (k-major, so the inner loop reads consecutive
// addresses). Edges are bounds-checked, so any M, N, K work. Grid: (ceil(N/64), ceil(M/64),
// batch). Dispatched by engine/ops/matmul.ts.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  a_batch_stride: u32,
  b_batch_stride: u32,
}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> a_tile: array<f32, 1024>; // [TK][TILE]
var<workgroup> b_tile: array<f32, 1024>; // [TK][TILE]

fn load_a(base: u32, row: u32, col: u32) -> f32 {
  if (row >= params.m || col >= params.k) {
    return 0.0;
  }
  if (TRANS_A == 1u) {
    return a[base + col * params.m + row];
  }
  return a[base + row * params.k + col];
}

fn load_b(base: u32, row: u32, col: u32) -> f32 {
  if (row >= params.k || col >= params.n) {
    return 0.0;
  }
  if (TRANS_B == 1u) {
    return b[base + col * params.k + row];
  }
  return b[base + row * params.n + col];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let batch = wid.z;
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let tid = lid.y * 16u + lid.x;
  let a_base = batch * params.a_batch_stride;
  let b_base = batch * params.b_batch_stride;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < params.k; k0 += TK) {
    for (var l = 0u; l < 4u; l++) {
      let e = tid + l * 256u;
      let kk = e / TILE;
      let mm = e % TILE;
      a_tile[e] = load_a(a_base, row0 + mm, k0 + kk);
      b_tile[e] = load_b(b_base, k0 + kk, col0 + mm);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = a_tile[kk * TILE + lid.y * 4u + i];
        bv[i] = b_tile[kk * TILE + lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  let out_base = batch * params.m * params.n;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (row < params.m && col < params.n) {
        out[out_base + row * params.n + col] = acc[i * 4u + j];
      }
    }
  }
}
