// Batched matrix product out[b] = op(A[b]) · op(B[b]), f32, row-major, register-blocked for CPU
// drivers (lavapipe), where it is the default (engine/ops/matmul.ts "registers").
//   A: [batch, M, K] (or [batch, K, M] when TRANS_A = 1), batch stride a_batch_stride (0 = shared)
//   B: [batch, K, N] (or [batch, N, K] when TRANS_B = 1), batch stride b_batch_stride (0 = shared)
//   out: [batch, M, N] contiguous.
// Why this shape: lavapipe runs 8 invocations in the 8 lanes of a SIMD register, and every
// storage load is a loop over those lanes (a bounds check, a branch and a scalar load per
// component; about 90 cycles per vec4 across the 8 lanes, whether or not the address is the same
// for all lanes), while an FMA costs one instruction for all 8 lanes. Loads set the pace, so each
// invocation holds a BM × BN block of out and K advances 4 at a time: one step is BM + BN vec4
// loads for BM·BN·4 FMAs, and the bigger the block, the fewer loads per FMA. There is no
// workgroup memory and no barrier (a workgroup-memory load is the same lane loop).
// Registers: the block is held as values of small structs, never arrays — arrays indexed in loops
// were kept in memory by the drivers (lavapipe and NVIDIA alike), struct members are SSA values.
// A Quad is a 4 × 4 tile (rows r0..r3, each a vec4 over 4 columns); a Strip is 4 rows × 32
// columns (quads q0..q7). The accumulators are BM / 4 strips s0..s7; one k step loads a Quad of A
// per strip (rows × 4 k) and one Strip of B (4 k × BN columns), then `mac_strip` does every FMA
// of the step written out. Quads and strips beyond BM and BN are never touched (the branches on
// the override constants fold away when the pipeline is built). Measured on lavapipe (2 cores,
// 8-wide SIMD), 1024²: 32 × 32 blocks run about 2× the 8 × 8 ones (the previous form).
// ALIGN_A / ALIGN_B = 1 when the contiguous axis of that operand is a multiple of 4 (every vec4
// aligned); otherwise a vec4 is shifted out of two aligned ones. K, row and column edges are
// clamped or masked, so any M, N, K work.
// Tunables (override constants, chosen per adapter by engine/ops/matmul.ts and
// engine/autotune.ts): BM, BN ∈ {4, 8, 16, 32} rows and columns per invocation; WG_X × WG_Y
// invocations per workgroup cover a (WG_Y·BM) × (WG_X·BN) tile. Grid: (ceil(N/(WG_X·BN)),
// ceil(M/(WG_Y·BM)), batch). WG_X ≥ 8 keeps the 8 SIMD lanes on one block row.
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
override WG_Y: u32 = 2u;
override BM: u32 = 16u;
override BN: u32 = 16u;

/** A 4 × 4 tile: rows r0..r3, each a vec4 over four columns (or over four k, for A). */
struct Quad {
  r0: vec4<f32>,
  r1: vec4<f32>,
  r2: vec4<f32>,
  r3: vec4<f32>,
}

/** 4 rows × 16 columns: column quads q0..q3 (only the first BN / 4 are used). */
struct Strip {
  q0: Quad,
  q1: Quad,
  q2: Quad,
  q3: Quad,
}

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

/** The transpose of the 4 × 4 tile whose rows are v0..v3. */
fn transposed(v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>) -> Quad {
  return Quad(
    vec4<f32>(v0.x, v1.x, v2.x, v3.x),
    vec4<f32>(v0.y, v1.y, v2.y, v3.y),
    vec4<f32>(v0.z, v1.z, v2.z, v3.z),
    vec4<f32>(v0.w, v1.w, v2.w, v3.w),
  );
}

/** A(r .. r + 3, kb .. kb + 3): rows of the block along k, zero past k. */
fn load_a_quad(base: u32, r: u32, kb: u32, kmask: vec4<bool>) -> Quad {
  let z = vec4<f32>(0.0);
  let last = params.m - 1u;
  if (TRANS_A == 1u) {
    // Stored [K, M]: a vec4 holds rows r .. r + 3 at one k.
    let kl = params.k - 1u;
    let m = params.m;
    return transposed(
      select(z, load_a4(base + kb * m + r), kmask.x),
      select(z, load_a4(base + min(kb + 1u, kl) * m + r), kmask.y),
      select(z, load_a4(base + min(kb + 2u, kl) * m + r), kmask.z),
      select(z, load_a4(base + min(kb + 3u, kl) * m + r), kmask.w),
    );
  }
  let k = params.k;
  return Quad(
    select(z, load_a4(base + min(r, last) * k + kb), kmask),
    select(z, load_a4(base + min(r + 1u, last) * k + kb), kmask),
    select(z, load_a4(base + min(r + 2u, last) * k + kb), kmask),
    select(z, load_a4(base + min(r + 3u, last) * k + kb), kmask),
  );
}

/** B(kb .. kb + 3, c .. c + 3): the block's k rows over four columns, zero past k. */
fn load_b_quad(base: u32, c: u32, kb: u32, kmask: vec4<bool>) -> Quad {
  let z = vec4<f32>(0.0);
  if (TRANS_B == 1u) {
    // Stored [N, K]: a vec4 holds one column at k .. k + 3.
    let last = params.n - 1u;
    let k = params.k;
    return transposed(
      select(z, load_b4(base + min(c, last) * k + kb), kmask),
      select(z, load_b4(base + min(c + 1u, last) * k + kb), kmask),
      select(z, load_b4(base + min(c + 2u, last) * k + kb), kmask),
      select(z, load_b4(base + min(c + 3u, last) * k + kb), kmask),
    );
  }
  let kl = params.k - 1u;
  let n = params.n;
  return Quad(
    select(z, load_b4(base + kb * n + c), kmask.x),
    select(z, load_b4(base + min(kb + 1u, kl) * n + c), kmask.y),
    select(z, load_b4(base + min(kb + 2u, kl) * n + c), kmask.z),
    select(z, load_b4(base + min(kb + 3u, kl) * n + c), kmask.w),
  );
}

/** load_b_quad when `on` (an override expression), else zeros. */
fn load_b_quad_if(base: u32, c: u32, kb: u32, kmask: vec4<bool>, on: bool) -> Quad {
  if (on) {
    return load_b_quad(base, c, kb, kmask);
  }
  let z = vec4<f32>(0.0);
  return Quad(z, z, z, z);
}

/** B(kb .. kb + 3, c0 .. c0 + BN − 1). */
fn load_b_strip(base: u32, c0: u32, kb: u32, kmask: vec4<bool>) -> Strip {
  return Strip(
    load_b_quad(base, c0, kb, kmask),
    load_b_quad_if(base, c0 + 4u, kb, kmask, BN > 4u),
    load_b_quad_if(base, c0 + 8u, kb, kmask, BN > 8u),
    load_b_quad_if(base, c0 + 12u, kb, kmask, BN > 8u),
  );
}

/** c + av.x·b.r0 + av.y·b.r1 + av.z·b.r2 + av.w·b.r3: one row over one k step of 4. */
fn mac_row(c: vec4<f32>, av: vec4<f32>, b: Quad) -> vec4<f32> {
  let c1 = fma(vec4<f32>(av.x), b.r0, c);
  let c2 = fma(vec4<f32>(av.y), b.r1, c1);
  let c3 = fma(vec4<f32>(av.z), b.r2, c2);
  return fma(vec4<f32>(av.w), b.r3, c3);
}

/** c + a · b for a 4 × 4 tile over one k step of 4 (a: rows along k, b: k rows). */
fn mac(c: Quad, a: Quad, b: Quad) -> Quad {
  return Quad(mac_row(c.r0, a.r0, b), mac_row(c.r1, a.r1, b), mac_row(c.r2, a.r2, b),
    mac_row(c.r3, a.r3, b));
}

/** mac(c, a, b) when `on` (an override expression: the branch folds away), else c. */
fn mac_if(c: Quad, a: Quad, b: Quad, on: bool) -> Quad {
  if (on) {
    return mac(c, a, b);
  }
  return c;
}

/**
 * c + a · b over BN columns for one strip of 4 rows. Built as a new value, not by assigning
 * members of a copy: that form made lavapipe's compile 7× slower.
 */
fn mac_strip(c: Strip, a: Quad, b: Strip) -> Strip {
  return Strip(
    mac(c.q0, a, b.q0),
    mac_if(c.q1, a, b.q1, BN > 4u),
    mac_if(c.q2, a, b.q2, BN > 8u),
    mac_if(c.q3, a, b.q3, BN > 8u),
  );
}

/** out(r, c0 .. c0 + 3) = v, inside the matrix only. */
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

fn store_quad(base: u32, r: u32, c: u32, q: Quad) {
  store_row(base, r, c, q.r0);
  store_row(base, r + 1u, c, q.r1);
  store_row(base, r + 2u, c, q.r2);
  store_row(base, r + 3u, c, q.r3);
}

/** Rows r .. r + 3, columns c0 .. c0 + BN − 1. */
fn store_strip(base: u32, r: u32, c0: u32, s: Strip) {
  store_quad(base, r, c0, s.q0);
  if (BN > 4u) {
    store_quad(base, r, c0 + 4u, s.q1);
  }
  if (BN > 8u) {
    store_quad(base, r, c0 + 8u, s.q2);
    store_quad(base, r, c0 + 12u, s.q3);
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
  let zq = Quad(z, z, z, z);
  let zs = Strip(zq, zq, zq, zq);
  // s<i> = out(row0 + 4i .. row0 + 4i + 3, col0 .. col0 + BN − 1).
  var s0 = zs;
  var s1 = zs;
  var s2 = zs;
  var s3 = zs;
  for (var kb = 0u; kb < kdim; kb += 4u) {
    let kmask = vec4<u32>(kb, kb + 1u, kb + 2u, kb + 3u) < vec4<u32>(kdim);
    let bs = load_b_strip(b_base, col0, kb, kmask);
    s0 = mac_strip(s0, load_a_quad(a_base, row0, kb, kmask), bs);
    if (BM > 4u) {
      s1 = mac_strip(s1, load_a_quad(a_base, row0 + 4u, kb, kmask), bs);
    }
    if (BM > 8u) {
      s2 = mac_strip(s2, load_a_quad(a_base, row0 + 8u, kb, kmask), bs);
      s3 = mac_strip(s3, load_a_quad(a_base, row0 + 12u, kb, kmask), bs);
    }
  }
  let ob = batch * params.m * params.n;
  store_strip(ob, row0, col0, s0);
  if (BM > 4u) {
    store_strip(ob, row0 + 4u, col0, s1);
  }
  if (BM > 8u) {
    store_strip(ob, row0 + 8u, col0, s2);
    store_strip(ob, row0 + 12u, col0, s3);
  }
}
