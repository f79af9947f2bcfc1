// Batched matrix product out[b] = op(A[b]) · op(B[b]), f32, row-major — the workgroup-memory
// tiled variant for GPUs (shaders/matmul.wgsl is the register-blocked one for CPU drivers such as
// lavapipe, where workgroup memory and barriers cost more than they save; engine/ops/matmul.ts
// picks one per adapter).
//   A: [batch, M, K] (or [batch, K, M] when TRANS_A = 1), batch stride a_batch_stride (0 = shared)
//   B: [batch, K, N] (or [batch, N, K] when TRANS_B = 1), batch stride b_batch_stride (0 = shared)
//   out: [batch, M, N] contiguous.
// Tiling: 16 × 16 invocations per workgroup. WIDE = 1: each invocation computes 8 × 8 outputs, a
// workgroup a 128 × 128 tile (64 FMAs per 4 vec4 reads of workgroup memory); WIDE = 0: 4 × 4
// outputs, a 64 × 64 tile (for products too small to fill a GPU with 128-wide tiles). An
// invocation's rows are 4·ty … 4·ty + 3 (and 64 + 4·ty … when WIDE), its columns 4·tx … likewise,
// so its reads of a tile are vec4s. K advances BK = 8 at a time through k-major tiles in workgroup
// memory (a_tile[k][m], b_tile[k][n]; rows padded by one vec4 so that the transposing stores
// spread over the banks). Global loads are coalesced: consecutive invocations read consecutive
// addresses along whichever dimension of A or B is contiguous. The next k tile is loaded into
// registers while the current one is multiplied (one tile buffer, two barriers per tile).
// The accumulators and operands are named vec4 variables, the FMAs written out: with arrays
// indexed in loops NVIDIA's compiler kept the accumulators in memory, 9× slower (measured).
// Edges are bounds-checked (zero-filled loads, skipped stores), so any M, N, K work.
// Grid: (ceil(N/T), ceil(M/T), batch), T = 128 or 64. Dispatched by engine/ops/matmul.ts.
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
override WIDE: u32 = 1u;

const BK: u32 = 8u;
// Row stride of a tile in vec4s: 128 columns at most, plus one vec4 of padding.
const RS: u32 = 33u;

var<workgroup> a_tile: array<vec4<f32>, 264>; // [BK][RS] vec4s: a_tile[k][m / 4][m % 4]
var<workgroup> b_tile: array<vec4<f32>, 264>; // [BK][RS] vec4s: b_tile[k][n / 4][n % 4]

fn tile_size() -> u32 {
  return select(64u, 128u, WIDE == 1u);
}

// Element e of the A tile as (row in tile, k in tile), chosen so that consecutive invocations
// read consecutive addresses of A.
fn a_coord(e: u32) -> vec2u {
  if (TRANS_A == 1u) {
    return vec2u(e % tile_size(), e / tile_size()); // A is [K, M]: contiguous along m
  }
  return vec2u(e / BK, e % BK); // A is [M, K]: contiguous along k
}

// Element e of the B tile as (column in tile, k in tile).
fn b_coord(e: u32) -> vec2u {
  if (TRANS_B == 1u) {
    return vec2u(e / BK, e % BK); // B is [N, K]: contiguous along k
  }
  return vec2u(e % tile_size(), e / tile_size()); // B is [K, N]: contiguous along n
}

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

fn put_a(c: vec2u, v: f32) {
  a_tile[c.y * RS + c.x / 4u][c.x % 4u] = v;
}

fn put_b(c: vec2u, v: f32) {
  b_tile[c.y * RS + c.x / 4u][c.x % 4u] = v;
}

// Row `row` of out, columns col … col + 3 (and col + 64 … col + 67 when WIDE), bounds-checked.
fn store_row(base: u32, row: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (row >= params.m) {
    return;
  }
  let o = base + row * params.n;
  for (var j = 0u; j < 4u; j++) {
    if (col + j < params.n) {
      out[o + col + j] = lo[j];
    }
    if (WIDE == 1u && col + 64u + j < params.n) {
      out[o + col + 64u + j] = hi[j];
    }
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = tile_size();
  let row0 = wid.y * t;
  let col0 = wid.x * t;
  let tid = lid.y * 16u + lid.x;
  let a_base = wid.z * params.a_batch_stride;
  let b_base = wid.z * params.b_batch_stride;
  // c{r}l: row r of the block, columns 4·tx …; c{r}h: columns 64 + 4·tx … (WIDE only).
  var c0l = vec4<f32>(0.0);
  var c0h = vec4<f32>(0.0);
  var c1l = vec4<f32>(0.0);
  var c1h = vec4<f32>(0.0);
  var c2l = vec4<f32>(0.0);
  var c2h = vec4<f32>(0.0);
  var c3l = vec4<f32>(0.0);
  var c3h = vec4<f32>(0.0);
  var c4l = vec4<f32>(0.0);
  var c4h = vec4<f32>(0.0);
  var c5l = vec4<f32>(0.0);
  var c5h = vec4<f32>(0.0);
  var c6l = vec4<f32>(0.0);
  var c6h = vec4<f32>(0.0);
  var c7l = vec4<f32>(0.0);
  var c7h = vec4<f32>(0.0);
  // This invocation's share of each tile: 4 elements (WIDE) or 2, at these coordinates.
  let ca0 = a_coord(tid);
  let ca1 = a_coord(tid + 256u);
  let ca2 = a_coord(tid + 512u);
  let ca3 = a_coord(tid + 768u);
  let cb0 = b_coord(tid);
  let cb1 = b_coord(tid + 256u);
  let cb2 = b_coord(tid + 512u);
  let cb3 = b_coord(tid + 768u);
  var pa0 = load_a(a_base, row0 + ca0.x, ca0.y);
  var pa1 = load_a(a_base, row0 + ca1.x, ca1.y);
  var pa2 = 0.0;
  var pa3 = 0.0;
  var pb0 = load_b(b_base, cb0.y, col0 + cb0.x);
  var pb1 = load_b(b_base, cb1.y, col0 + cb1.x);
  var pb2 = 0.0;
  var pb3 = 0.0;
  if (WIDE == 1u) {
    pa2 = load_a(a_base, row0 + ca2.x, ca2.y);
    pa3 = load_a(a_base, row0 + ca3.x, ca3.y);
    pb2 = load_b(b_base, cb2.y, col0 + cb2.x);
    pb3 = load_b(b_base, cb3.y, col0 + cb3.x);
  }
  for (var k0 = 0u; k0 < params.k; k0 += BK) {
    put_a(ca0, pa0);
    put_a(ca1, pa1);
    put_b(cb0, pb0);
    put_b(cb1, pb1);
    if (WIDE == 1u) {
      put_a(ca2, pa2);
      put_a(ca3, pa3);
      put_b(cb2, pb2);
      put_b(cb3, pb3);
    }
    workgroupBarrier();
    // Prefetch the next k tile while this one is multiplied.
    let k1 = k0 + BK;
    if (k1 < params.k) {
      pa0 = load_a(a_base, row0 + ca0.x, k1 + ca0.y);
      pa1 = load_a(a_base, row0 + ca1.x, k1 + ca1.y);
      pb0 = load_b(b_base, k1 + cb0.y, col0 + cb0.x);
      pb1 = load_b(b_base, k1 + cb1.y, col0 + cb1.x);
      if (WIDE == 1u) {
        pa2 = load_a(a_base, row0 + ca2.x, k1 + ca2.y);
        pa3 = load_a(a_base, row0 + ca3.x, k1 + ca3.y);
        pb2 = load_b(b_base, k1 + cb2.y, col0 + cb2.x);
        pb3 = load_b(b_base, k1 + cb3.y, col0 + cb3.x);
      }
    }
    for (var kk = 0u; kk < BK; kk++) {
      let a0 = a_tile[kk * RS + lid.y];
      let b0 = b_tile[kk * RS + lid.x];
      c0l = fma(vec4<f32>(a0.x), b0, c0l);
      c1l = fma(vec4<f32>(a0.y), b0, c1l);
      c2l = fma(vec4<f32>(a0.z), b0, c2l);
      c3l = fma(vec4<f32>(a0.w), b0, c3l);
      if (WIDE == 1u) {
        let a1 = a_tile[kk * RS + 16u + lid.y];
        let b1 = b_tile[kk * RS + 16u + lid.x];
        c0h = fma(vec4<f32>(a0.x), b1, c0h);
        c1h = fma(vec4<f32>(a0.y), b1, c1h);
        c2h = fma(vec4<f32>(a0.z), b1, c2h);
        c3h = fma(vec4<f32>(a0.w), b1, c3h);
        c4l = fma(vec4<f32>(a1.x), b0, c4l);
        c4h = fma(vec4<f32>(a1.x), b1, c4h);
        c5l = fma(vec4<f32>(a1.y), b0, c5l);
        c5h = fma(vec4<f32>(a1.y), b1, c5h);
        c6l = fma(vec4<f32>(a1.z), b0, c6l);
        c6h = fma(vec4<f32>(a1.z), b1, c6h);
        c7l = fma(vec4<f32>(a1.w), b0, c7l);
        c7h = fma(vec4<f32>(a1.w), b1, c7h);
      }
    }
    workgroupBarrier();
  }
  let out_base = wid.z * params.m * params.n;
  let r = row0 + lid.y * 4u;
  let c = col0 + lid.x * 4u;
  store_row(out_base, r, c, c0l, c0h);
  store_row(out_base, r + 1u, c, c1l, c1h);
  store_row(out_base, r + 2u, c, c2l, c2h);
  store_row(out_base, r + 3u, c, c3l, c3h);
  if (WIDE == 1u) {
    store_row(out_base, r + 64u, c, c4l, c4h);
    store_row(out_base, r + 65u, c, c5l, c5h);
    store_row(out_base, r + 66u, c, c6l, c6h);
    store_row(out_base, r + 67u, c, c7l, c7h);
  }
}
