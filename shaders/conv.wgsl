// Convolution as an implicit GEMM: a tiled matrix product whose operand loads compute the
// im2col / col2im index on the fly, so the unfolded matrix never exists in memory.
// One kernel family for the three products of a (grouped, strided, padded, dilated) 2-D
// convolution; 1-D convolutions run as H = 1. Per group g (grid z), with KK = k_h·k_w:
//
//   MODE 0, forward:        y[n, g·cout_g + r, oy, ox] = Σ_k W(r, k) · im2col(k; n, oy, ox)
//     a = weight  [cout, cin_g, k_h, k_w]          row r = out channel, k = (ci, i, j)
//     b = x       [batch, cin, in_h, in_w]
//     out = y     [batch, cout, out_h, out_w]      column = (n, oy, ox); + bias[cout] if has_bias
//   MODE 1, input gradient (= transposed convolution forward):
//                           dx[n, g·cin_g + r, iy, ix] = Σ_k Wᵀ(r, k) · gather(k; n, iy, ix)
//     a = weight  [cout, cin_g, k_h, k_w]          row r = in channel, k = (co, i, j)
//     b = dy      [batch, cout, out_h, out_w]      read where iy = oy·s − p + i·d for an integer oy
//     out = dx    [batch, cin, in_h, in_w]         column = (n, iy, ix); + bias[cin] if has_bias
//   MODE 2, weight gradient: dw[g·cout_g + r, (ci, i, j)] = Σ_k dY(r, k) · im2col((ci, i, j); k)
//     a = dy      [batch, cout, out_h, out_w]      row r = out channel, k = (n, oy, ox)
//     b = x       [batch, cin, in_h, in_w]
//     out = dw    [cout, cin_g, k_h, k_w]          column = (ci, i, j)
// All tensors are contiguous row-major f32. Every output element is written exactly once by a
// gather (the batch sum of MODE 2 runs inside the k loop), so no float atomics are needed.
//
// Tiling: a workgroup computes a TILE_M × TILE_N tile of the GEMM output; each of its
// (TILE_N/4) × (TILE_M/4) invocations holds a 4 × 4 block in registers. k advances TK at a time
// through two k-major tiles in workgroup memory. TILE_M is an override so that layers with few
// channels (M = 5, 16, 32) do not waste most of a 64-row tile; TILE_N stays 64 because the
// column count (batch × positions) is large. Grid: (ceil(n/TILE_N), ceil(m/TILE_M), groups).
// Dispatched by engine/ops/conv.ts (conv1d, conv2d, convTranspose1d and their gradients).
struct Params {
  batch: u32,
  cin: u32,
  cout: u32,
  cin_g: u32,
  cout_g: u32,
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  k_h: u32,
  k_w: u32,
  stride_h: u32,
  stride_w: u32,
  pad_h: u32,
  pad_w: u32,
  dil_h: u32,
  dil_w: u32,
  // GEMM sizes: rows, columns and reduction length of this mode's product (per group).
  m: u32,
  n: u32,
  k: u32,
  has_bias: u32,
}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override MODE: u32 = 0u;
override TILE_M: u32 = 64u;
override TILE_N: u32 = 64u;
override TK: u32 = 16u;
// Invocations per workgroup along x (columns) and y (rows): one per 4 × 4 block of the tile.
// Named overrides because the reflection parser reads only names or literals in @workgroup_size.
override WG_X: u32 = TILE_N / 4u;
override WG_Y: u32 = TILE_M / 4u;
override THREADS: u32 = WG_X * WG_Y;

var<workgroup> a_tile: array<f32, TK * TILE_M>; // [TK][TILE_M]
var<workgroup> b_tile: array<f32, TK * TILE_N>; // [TK][TILE_N]

// Element (kidx = (ci, i, j), col = (n, oy, ox)) of group g's unfolded input; 0 in the padding.
fn im2col(g: u32, kidx: u32, col: u32) -> f32 {
  let kk = params.k_h * params.k_w;
  let ci = kidx / kk;
  let tap = kidx % kk;
  let hw = params.out_h * params.out_w;
  let nb = col / hw;
  let pos = col % hw;
  let iy = i32((pos / params.out_w) * params.stride_h + (tap / params.k_w) * params.dil_h) -
    i32(params.pad_h);
  let ix = i32((pos % params.out_w) * params.stride_w + (tap % params.k_w) * params.dil_w) -
    i32(params.pad_w);
  if (iy < 0 || ix < 0 || iy >= i32(params.in_h) || ix >= i32(params.in_w)) {
    return 0.0;
  }
  return b[((nb * params.cin + g * params.cin_g + ci) * params.in_h + u32(iy)) * params.in_w +
    u32(ix)];
}

// The dy element that tap (co, i, j) carries to input position col = (n, iy, ix), or 0 where no
// output position oy·s − p + i·d lands on iy (and likewise for x).
fn col2im_gather(g: u32, kidx: u32, col: u32) -> f32 {
  let kk = params.k_h * params.k_w;
  let co = kidx / kk;
  let tap = kidx % kk;
  let hw = params.in_h * params.in_w;
  let nb = col / hw;
  let pos = col % hw;
  let ty = i32(pos / params.in_w + params.pad_h) - i32((tap / params.k_w) * params.dil_h);
  let tx = i32(pos % params.in_w + params.pad_w) - i32((tap % params.k_w) * params.dil_w);
  if (ty < 0 || tx < 0) {
    return 0.0;
  }
  let oy = u32(ty) / params.stride_h;
  let ox = u32(tx) / params.stride_w;
  if (oy * params.stride_h != u32(ty) || ox * params.stride_w != u32(tx) ||
      oy >= params.out_h || ox >= params.out_w) {
    return 0.0;
  }
  return b[((nb * params.cout + g * params.cout_g + co) * params.out_h + oy) * params.out_w + ox];
}

fn load_a(g: u32, row: u32, kidx: u32) -> f32 {
  if (row >= params.m || kidx >= params.k) {
    return 0.0;
  }
  if (MODE == 0u) {
    return a[(g * params.cout_g + row) * params.k + kidx];
  }
  if (MODE == 1u) {
    let kk = params.k_h * params.k_w;
    return a[((g * params.cout_g + kidx / kk) * params.cin_g + row) * kk + kidx % kk];
  }
  let hw = params.out_h * params.out_w;
  return a[((kidx / hw) * params.cout + g * params.cout_g + row) * hw + kidx % hw];
}

fn load_b(g: u32, kidx: u32, col: u32) -> f32 {
  if (kidx >= params.k || col >= params.n) {
    return 0.0;
  }
  if (MODE == 0u) {
    return im2col(g, kidx, col);
  }
  if (MODE == 1u) {
    return col2im_gather(g, kidx, col);
  }
  return im2col(g, col, kidx);
}

fn store(g: u32, row: u32, col: u32, value: f32) {
  if (MODE == 2u) {
    out[(g * params.cout_g + row) * params.n + col] = value;
    return;
  }
  // MODE 0 writes out channels of y, MODE 1 in channels of dx; both are [batch, C, H·W].
  var channels = params.cout;
  var ch = g * params.cout_g + row;
  var hw = params.out_h * params.out_w;
  if (MODE == 1u) {
    channels = params.cin;
    ch = g * params.cin_g + row;
    hw = params.in_h * params.in_w;
  }
  var v = value;
  if (params.has_bias != 0u) {
    v += bias[ch];
  }
  out[((col / hw) * channels + ch) * hw + col % hw] = v;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.z;
  let row0 = wid.y * TILE_M;
  let col0 = wid.x * TILE_N;
  let tid = lid.y * WG_X + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < params.k; k0 += TK) {
    // Consecutive invocations read consecutive addresses: k is the contiguous axis of a in
    // every mode, and of b in MODE 2 (positions); otherwise b's columns are.
    for (var e = tid; e < TK * TILE_M; e += THREADS) {
      let kk = e % TK;
      let mm = e / TK;
      a_tile[kk * TILE_M + mm] = load_a(g, row0 + mm, k0 + kk);
    }
    for (var e = tid; e < TK * TILE_N; e += THREADS) {
      var kk = e / TILE_N;
      var nn = e % TILE_N;
      if (MODE == 2u) {
        kk = e % TK;
        nn = e / TK;
      }
      b_tile[kk * TILE_N + nn] = load_b(g, k0 + kk, col0 + nn);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = a_tile[kk * TILE_M + lid.y * 4u + i];
        bv[i] = b_tile[kk * TILE_N + lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (row < params.m && col < params.n) {
        store(g, row, col, acc[i * 4u + j]);
      }
    }
  }
}
