// Batched matrix product out[b] = op(A[b]) · op(B[b]), f32, row-major.
//   A: [batch, M, K] (or [batch, K, M] when TRANS_A = 1), batch stride a_batch_stride (0 = shared)
//   B: [batch, K, N] (or [batch, N, K] when TRANS_B = 1), batch stride b_batch_stride (0 = shared)
//   out: [batch, M, N] contiguous.
// A and B are read as vec4: on lavapipe (Mesa 22.3) every storage or workgroup load is a loop
// over the SIMD lanes, so loads, not FMAs, set the pace. Hence no workgroup memory and no
// barriers: each invocation loads its operands straight from the buffers and holds a BM × BN
// block of out; K advances 4 at a time, so one step is BM + BN vec4 loads for BM·BN·4 FMAs, and
// the bigger the block the fewer loads per FMA. ALIGN_A / ALIGN_B = 1 when the contiguous axis of
// that operand is a multiple of 4 (every vec4 aligned); otherwise a vec4 is shifted out of two
// aligned ones. K, row and column edges are clamped or masked, so any M, N, K work.
// Registers: the accumulators are sixteen NAMED vec4s (c<row><l|h>: row i of the block, columns
// 0..3 / 4..7), the operands named vec4s too (a0..a7 = A(row i, k..k+3); b<t><l|h> = B(k+t,
// columns 0..3 / 4..7)) and every FMA is written out (step4). Arrays indexed in loops (the
// previous form, `var acc: array<vec4<f32>, 16>`) were kept in memory by the drivers — lavapipe
// and NVIDIA alike — even with constant trip counts; named values stay in registers, which made
// 8 × 8 blocks (16 accumulators + 16 operands) the fastest here: 1.8× the old 4 × 8 array form.
// Tunables (override constants, chosen per adapter by engine/ops/matmul.ts and
// engine/autotune.ts): BM, BN ∈ {4, 8} rows and columns per invocation (BM = 4 leaves rows 4..7
// and BN = 4 the `h` halves unused: those branches fold away once the constants are known);
// WG_X × WG_Y invocations per workgroup cover a (WG_Y·BM) × (WG_X·BN) tile. Grid:
// (ceil(N/(WG_X·BN)), ceil(M/(WG_Y·BM)), batch). On lavapipe 8 × 8 blocks in 16 × 4 (or 8 × 8)
// workgroups win; WG_X ≥ 8 keeps the 8 SIMD lanes on one block row (4 × 4 workgroups are a
// third slower).
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

// c + a.x·b0 + a.y·b1 + a.z·b2 + a.w·b3: one accumulator over one k step of 4.
fn step4(
  c: vec4<f32>,
  av: vec4<f32>,
  b0: vec4<f32>,
  b1: vec4<f32>,
  b2: vec4<f32>,
  b3: vec4<f32>,
) -> vec4<f32> {
  let c1 = fma(vec4<f32>(av.x), b0, c);
  let c2 = fma(vec4<f32>(av.y), b1, c1);
  let c3 = fma(vec4<f32>(av.z), b2, c2);
  return fma(vec4<f32>(av.w), b3, c3);
}

// Row-major A (not transposed): A(r, kb .. kb + 3), zero past k.
fn a_row(base: u32, r: u32, kb: u32, kmask: vec4<bool>) -> vec4<f32> {
  return select(vec4<f32>(0.0), load_a4(base + min(r, params.m - 1u) * params.k + kb), kmask);
}
// Transposed A: A(r0 .. r0 + 3, kb + t) as a vec4 over rows, zero past k.
fn a_col(base: u32, r0: u32, kt: u32) -> vec4<f32> {
  let v = load_a4(base + min(kt, params.k - 1u) * params.m + r0);
  return select(vec4<f32>(0.0), v, kt < params.k);
}
// B not transposed: B(kb + t, c0 .. c0 + 3), zero past k.
fn b_row(base: u32, c0: u32, kt: u32) -> vec4<f32> {
  let v = load_b4(base + min(kt, params.k - 1u) * params.n + c0);
  return select(vec4<f32>(0.0), v, kt < params.k);
}
// B transposed: B(kb .. kb + 3, c) as a vec4 over k.
fn b_col(base: u32, c: u32, kb: u32, kmask: vec4<bool>) -> vec4<f32> {
  return select(vec4<f32>(0.0), load_b4(base + min(c, params.n - 1u) * params.k + kb), kmask);
}

// out(r, c0 .. c0 + 3) = v, inside the matrix only.
fn store_row(base: u32, r: u32, c0: u32, v: vec4<f32>) {
  if (r >= params.m) {
    return;
  }
  let n = params.n;
  let o = base + r * n + c0;
  for (var c = 0u; c < 4u; c++) {
    if (c0 + c < n) {
      out[o + c] = v[c];
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let batch = gid.z;
  let row0 = gid.y * BM;
  let col0 = gid.x * BN;
  let kdim = params.k;
  let a_base = batch * params.a_batch_stride;
  let b_base = batch * params.b_batch_stride;
  let z = vec4<f32>(0.0);
  var c0l = z; var c0h = z; var c1l = z; var c1h = z;
  var c2l = z; var c2h = z; var c3l = z; var c3h = z;
  var c4l = z; var c4h = z; var c5l = z; var c5h = z;
  var c6l = z; var c6h = z; var c7l = z; var c7h = z;
  for (var kb = 0u; kb < kdim; kb += 4u) {
    let kmask = vec4<u32>(kb, kb + 1u, kb + 2u, kb + 3u) < vec4<u32>(kdim);
    // a_i = A(row0 + i, kb .. kb + 3)
    var a0 = z; var a1 = z; var a2 = z; var a3 = z;
    var a4 = z; var a5 = z; var a6 = z; var a7 = z;
    if (TRANS_A == 1u) {
      let l0 = a_col(a_base, row0, kb);
      let l1 = a_col(a_base, row0, kb + 1u);
      let l2 = a_col(a_base, row0, kb + 2u);
      let l3 = a_col(a_base, row0, kb + 3u);
      a0 = vec4<f32>(l0.x, l1.x, l2.x, l3.x);
      a1 = vec4<f32>(l0.y, l1.y, l2.y, l3.y);
      a2 = vec4<f32>(l0.z, l1.z, l2.z, l3.z);
      a3 = vec4<f32>(l0.w, l1.w, l2.w, l3.w);
      if (BM == 8u) {
        let h0 = a_col(a_base, row0 + 4u, kb);
        let h1 = a_col(a_base, row0 + 4u, kb + 1u);
        let h2 = a_col(a_base, row0 + 4u, kb + 2u);
        let h3 = a_col(a_base, row0 + 4u, kb + 3u);
        a4 = vec4<f32>(h0.x, h1.x, h2.x, h3.x);
        a5 = vec4<f32>(h0.y, h1.y, h2.y, h3.y);
        a6 = vec4<f32>(h0.z, h1.z, h2.z, h3.z);
        a7 = vec4<f32>(h0.w, h1.w, h2.w, h3.w);
      }
    } else {
      a0 = a_row(a_base, row0, kb, kmask);
      a1 = a_row(a_base, row0 + 1u, kb, kmask);
      a2 = a_row(a_base, row0 + 2u, kb, kmask);
      a3 = a_row(a_base, row0 + 3u, kb, kmask);
      if (BM == 8u) {
        a4 = a_row(a_base, row0 + 4u, kb, kmask);
        a5 = a_row(a_base, row0 + 5u, kb, kmask);
        a6 = a_row(a_base, row0 + 6u, kb, kmask);
        a7 = a_row(a_base, row0 + 7u, kb, kmask);
      }
    }
    // bt_l / bt_h = B(kb + t, col0 .. col0 + 3) / B(kb + t, col0 + 4 .. col0 + 7)
    var b0l = z; var b1l = z; var b2l = z; var b3l = z;
    var b0h = z; var b1h = z; var b2h = z; var b3h = z;
    if (TRANS_B == 1u) {
      let v0 = b_col(b_base, col0, kb, kmask);
      let v1 = b_col(b_base, col0 + 1u, kb, kmask);
      let v2 = b_col(b_base, col0 + 2u, kb, kmask);
      let v3 = b_col(b_base, col0 + 3u, kb, kmask);
      b0l = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
      b1l = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
      b2l = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
      b3l = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
      if (BN == 8u) {
        let v4 = b_col(b_base, col0 + 4u, kb, kmask);
        let v5 = b_col(b_base, col0 + 5u, kb, kmask);
        let v6 = b_col(b_base, col0 + 6u, kb, kmask);
        let v7 = b_col(b_base, col0 + 7u, kb, kmask);
        b0h = vec4<f32>(v4.x, v5.x, v6.x, v7.x);
        b1h = vec4<f32>(v4.y, v5.y, v6.y, v7.y);
        b2h = vec4<f32>(v4.z, v5.z, v6.z, v7.z);
        b3h = vec4<f32>(v4.w, v5.w, v6.w, v7.w);
      }
    } else {
      b0l = b_row(b_base, col0, kb);
      b1l = b_row(b_base, col0, kb + 1u);
      b2l = b_row(b_base, col0, kb + 2u);
      b3l = b_row(b_base, col0, kb + 3u);
      if (BN == 8u) {
        b0h = b_row(b_base, col0 + 4u, kb);
        b1h = b_row(b_base, col0 + 4u, kb + 1u);
        b2h = b_row(b_base, col0 + 4u, kb + 2u);
        b3h = b_row(b_base, col0 + 4u, kb + 3u);
      }
    }
    c0l = step4(c0l, a0, b0l, b1l, b2l, b3l);
    c1l = step4(c1l, a1, b0l, b1l, b2l, b3l);
    c2l = step4(c2l, a2, b0l, b1l, b2l, b3l);
    c3l = step4(c3l, a3, b0l, b1l, b2l, b3l);
    if (BN == 8u) {
      c0h = step4(c0h, a0, b0h, b1h, b2h, b3h);
      c1h = step4(c1h, a1, b0h, b1h, b2h, b3h);
      c2h = step4(c2h, a2, b0h, b1h, b2h, b3h);
      c3h = step4(c3h, a3, b0h, b1h, b2h, b3h);
    }
    if (BM == 8u) {
      c4l = step4(c4l, a4, b0l, b1l, b2l, b3l);
      c5l = step4(c5l, a5, b0l, b1l, b2l, b3l);
      c6l = step4(c6l, a6, b0l, b1l, b2l, b3l);
      c7l = step4(c7l, a7, b0l, b1l, b2l, b3l);
      if (BN == 8u) {
        c4h = step4(c4h, a4, b0h, b1h, b2h, b3h);
        c5h = step4(c5h, a5, b0h, b1h, b2h, b3h);
        c6h = step4(c6h, a6, b0h, b1h, b2h, b3h);
        c7h = step4(c7h, a7, b0h, b1h, b2h, b3h);
      }
    }
  }
  let ob = batch * params.m * params.n;
  store_row(ob, row0, col0, c0l);
  store_row(ob, row0 + 1u, col0, c1l);
  store_row(ob, row0 + 2u, col0, c2l);
  store_row(ob, row0 + 3u, col0, c3l);
  if (BN == 8u) {
    store_row(ob, row0, col0 + 4u, c0h);
    store_row(ob, row0 + 1u, col0 + 4u, c1h);
    store_row(ob, row0 + 2u, col0 + 4u, c2h);
    store_row(ob, row0 + 3u, col0 + 4u, c3h);
  }
  if (BM == 8u) {
    store_row(ob, row0 + 4u, col0, c4l);
    store_row(ob, row0 + 5u, col0, c5l);
    store_row(ob, row0 + 6u, col0, c6l);
    store_row(ob, row0 + 7u, col0, c7l);
    if (BN == 8u) {
      store_row(ob, row0 + 4u, col0 + 4u, c4h);
      store_row(ob, row0 + 5u, col0 + 4u, c5h);
      store_row(ob, row0 + 6u, col0 + 4u, c6h);
      store_row(ob, row0 + 7u, col0 + 4u, c7h);
    }
  }
}
