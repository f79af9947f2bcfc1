// Convolution as an implicit GEMM: a register-blocked matrix product whose operand loads compute
// the im2col / col2im index on the fly, so the unfolded matrix never exists in memory.
// One kernel family for the three products of a (grouped, strided, padded, dilated) 2-D
// convolution; 1-D convolutions run as H = 1. Per group g, with T = k_h·k_w taps:
//
//   MODE 0, forward:        y[n, g·cout_g + r, oy, ox] = Σ_(tap, ci) W(r, tap, ci) · x(...)
//     a = weight permuted [cout, T, cin_g]            row r = out channel
//     b4 = x channels-last [batch, in_h·in_w, cin]    read at iy = oy·s − p + i·d (0 outside)
//     out = y [batch, cout, out_h, out_w]              column = (n, oy, ox)
//   MODE 1, input gradient (= transposed convolution forward), one grid-z slice per output
//   phase (py, px) = (iy mod stride_h, ix mod stride_w): only the taps with
//   (py + p − i·d) mod s = 0 feed that phase, so they are the only ones visited.
//     a = weight permuted [groups, cin_g, T, cout_g]  row r = in channel
//     b4 = dy channels-last [batch, out_h·out_w, cout] read at oy = (iy + p − i·d) / s
//     out = dx [batch, cin, in_h, in_w]                column = (n, qy, qx), iy = qy·s + py
//   MODE 2, weight gradient: dw[g·cout_g + r, ci, i, j] = Σ_(n, oy, ox) dy · x(...)
//     a = dy [batch, cout, out_h, out_w]               row r = out channel, k = (n, oy, ox)
//     b4 = x channels-last [batch, in_h·in_w, cin]    column = (ci block, tap, ci), so four
//                                                      columns are four channels of one tap
//     out = dw [cout, cin_g, k_h, k_w]
// MODES 0 and 1 end with an epilogue: + bias[channel] (has_bias), optionally written to `pre`
// (SAVE_PRE = 1: the pre-activation a fused activation's gradient needs), then the activation
// f = the unary op OP of the op table (ACT = 1; alpha = act_alpha), whose WGSL comes from
// shaders/unary_functions.wgsl, prepended by engine/ops/conv.ts.
// engine/ops/conv.ts makes the permuted / channels-last copies (small strided copies). Every
// output element is written exactly once (MODE 2's batch sum runs inside the k loop): no atomics.
//
// Tiling, as in shaders/matmul.wgsl: on lavapipe every storage load is a loop over the SIMD
// lanes and barriers are expensive, so there is no workgroup memory: each invocation holds a
// BM × BN block (BM, BN ∈ {4, 8, 16}) as BM / 4 Strips of Quads (struct values, which stay in
// registers, unlike arrays), and k advances 4 at a time with vec4 loads along k of a and, for b,
// of channels (MODES 0/1: each column's 4 channels, transposed in registers) or of 4 channels of
// one tap at each of 4 positions (MODE 2). Loads set the pace, so the bigger the block the
// fewer loads per FMA: 16 × 16 runs about 1.6× 8 × 8 here. Per-column state (source offsets,
// validity) is kept in ColQuads / SrcQuads of 4 columns. A_VEC / B_VEC = 1 when the vec4 runs
// are 4-aligned; otherwise the values are gathered as scalars. Workgroup WG_X × WG_Y
// invocations (WG_Y shrinks for layers with few rows; WG_X ≥ 8 keeps the 8 SIMD lanes on one
// block row); grid (ceil(n/(WG_X·BN)), ceil(m/(BM·WG_Y)), groups · phases). BM, BN, WG_X, WG_Y
// are chosen by engine/ops/conv.ts (tuned per adapter by engine/autotune.ts). Dispatched by
// engine/ops/conv.ts (conv1d, conv2d, convTranspose1d, their gradients).
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
  m: u32,
  n: u32,
  k: u32,
  has_bias: u32,
  phases: u32,
  q_h: u32,
  q_w: u32,
  act_alpha: f32,
  ci_block: u32,
}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> pre: array<f32>;

override MODE: u32 = 0u;
override A_VEC: u32 = 0u;
override B_VEC: u32 = 0u;
override WG_X: u32 = 8u;
override WG_Y: u32 = 2u;
override BM: u32 = 16u;
override BN: u32 = 16u;
override ACT: u32 = 0u;
override SAVE_PRE: u32 = 0u;

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

fn a_at(idx: u32) -> f32 {
  return a[idx / 4u][idx % 4u];
}

fn load_a4(idx: u32) -> vec4<f32> {
  if (A_VEC == 1u) {
    return a[idx / 4u];
  }
  return vec4<f32>(a_at(idx), a_at(idx + 1u), a_at(idx + 2u), a_at(idx + 3u));
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

fn zero_quad() -> Quad {
  let z = vec4<f32>(0.0);
  return Quad(z, z, z, z);
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

/** c + a · b over BN columns for one strip of 4 rows (built as a new value: see matmul.wgsl). */
fn mac_strip(c: Strip, a: Quad, b: Strip) -> Strip {
  return Strip(
    mac(c.q0, a, b.q0),
    mac_if(c.q1, a, b.q1, BN > 4u),
    mac_if(c.q2, a, b.q2, BN > 8u),
    mac_if(c.q3, a, b.q3, BN > 8u),
  );
}

// ---- A: four rows along k ----

/** Offsets of four rows' k = 0 in `a`. */
struct RowQuad {
  o0: u32,
  o1: u32,
  o2: u32,
  o3: u32,
}

/** Rows r .. r + 3 (clamped to m − 1) at offset base + row · stride. */
fn row_quad(base: u32, r: u32, stride: u32) -> RowQuad {
  let last = params.m - 1u;
  return RowQuad(
    base + min(r, last) * stride,
    base + min(r + 1u, last) * stride,
    base + min(r + 2u, last) * stride,
    base + min(r + 3u, last) * stride,
  );
}

/** A(rows, k .. k + 3) = a[row offset + w ..], zero past k (kmask). */
fn a_quad(q: RowQuad, w: u32, kmask: vec4<bool>) -> Quad {
  let z = vec4<f32>(0.0);
  return Quad(
    select(z, load_a4(q.o0 + w), kmask),
    select(z, load_a4(q.o1 + w), kmask),
    select(z, load_a4(q.o2 + w), kmask),
    select(z, load_a4(q.o3 + w), kmask),
  );
}

// ---- B of MODES 0/1: columns are output positions, k = (tap, channel) ----

// Where one output column reads its source: channels-last offset of its batch item and group,
// and its unshifted source row and column.
struct Col {
  base: u32,
  y: i32,
  x: i32,
}

struct ColQuad {
  c0: Col,
  c1: Col,
  c2: Col,
  c3: Col,
}

// One column's source at one tap: channels-last element offset, and whether it is inside.
struct Src {
  off: u32,
  ok: bool,
}

struct SrcQuad {
  s0: Src,
  s1: Src,
  s2: Src,
  s3: Src,
}

/** MODES 0/1's column: batch item, group offset and unshifted source position, clamped. */
fn gemm_col(g: u32, col: u32, chans: u32, src_ch: u32, src_hw: u32, col_w: u32, col_hw: u32) -> Col {
  let c = min(col, params.n - 1u);
  let nb = c / col_hw;
  let pos = c % col_hw;
  if (MODE == 0u) {
    return Col(
      nb * src_hw * src_ch + g * chans,
      i32((pos / col_w) * params.stride_h) - i32(params.pad_h),
      i32((pos % col_w) * params.stride_w) - i32(params.pad_w),
    );
  }
  return Col(nb * src_hw * src_ch + g * chans, i32(pos / col_w), i32(pos % col_w));
}

fn col_quad(g: u32, col: u32, chans: u32, src_ch: u32, src_hw: u32, col_w: u32, col_hw: u32) -> ColQuad {
  return ColQuad(
    gemm_col(g, col, chans, src_ch, src_hw, col_w, col_hw),
    gemm_col(g, col + 1u, chans, src_ch, src_hw, col_w, col_hw),
    gemm_col(g, col + 2u, chans, src_ch, src_hw, col_w, col_hw),
    gemm_col(g, col + 3u, chans, src_ch, src_hw, col_w, col_hw),
  );
}

fn src_at(c: Col, dy: i32, dx: i32, src_h: u32, src_w: u32, src_ch: u32) -> Src {
  let sy = c.y + dy;
  let sx = c.x + dx;
  let ok = sy >= 0 && sx >= 0 && u32(sy) < src_h && u32(sx) < src_w;
  return Src(select(0u, c.base + (u32(sy) * src_w + u32(sx)) * src_ch, ok), ok);
}

fn src_quad(q: ColQuad, dy: i32, dx: i32, src_h: u32, src_w: u32, src_ch: u32) -> SrcQuad {
  return SrcQuad(
    src_at(q.c0, dy, dx, src_h, src_w, src_ch),
    src_at(q.c1, dy, dx, src_h, src_w, src_ch),
    src_at(q.c2, dy, dx, src_h, src_w, src_ch),
    src_at(q.c3, dy, dx, src_h, src_w, src_ch),
  );
}

/** Channels c0 .. c0 + 3 of the channels-last source at element offset idx (c0 excluded). */
fn b4_chans(idx: u32, c0: u32, chans: u32) -> vec4<f32> {
  if (B_VEC == 1u) {
    return b4[(idx + c0) / 4u];
  }
  let last = chans - 1u;
  return vec4<f32>(
    b[idx + min(c0, last)],
    b[idx + min(c0 + 1u, last)],
    b[idx + min(c0 + 2u, last)],
    b[idx + min(c0 + 3u, last)],
  );
}

/** Channels c0 .. c0 + 3 of a column's source (a vec4 along k), zero outside. */
fn b_col(s: Src, c0: u32, chans: u32, kmask: vec4<bool>) -> vec4<f32> {
  let v = select(vec4<f32>(0.0), b4_chans(s.off, c0, chans), kmask);
  return select(vec4<f32>(0.0), v, s.ok);
}

/** B(k = channels c0 .. c0 + 3, four columns): each column's vec4 along k, transposed. */
fn gemm_b_quad(q: SrcQuad, c0: u32, chans: u32, kmask: vec4<bool>) -> Quad {
  return transposed(
    b_col(q.s0, c0, chans, kmask),
    b_col(q.s1, c0, chans, kmask),
    b_col(q.s2, c0, chans, kmask),
    b_col(q.s3, c0, chans, kmask),
  );
}

fn gemm_b_quad_if(q: SrcQuad, c0: u32, chans: u32, kmask: vec4<bool>, on: bool) -> Quad {
  if (on) {
    return gemm_b_quad(q, c0, chans, kmask);
  }
  return zero_quad();
}

// ---- B of MODE 2: columns are (tap, ci), k = (batch item, output position) ----

/** Four weight-gradient columns: their taps' source shifts and channels (ci), clamped. */
struct WCols {
  dy: vec4<i32>,
  dx: vec4<i32>,
  ch: vec4<u32>,
}

/**
 * MODE 2's column c as (tap, ci). Columns run in blocks of ci_block channels of one tap, the
 * taps of a channel block next to each other: neighbouring lanes then read the same rows of x
 * at neighbouring positions, which keeps the stream through x in cache (ci fastest over all
 * taps, each lane alone on its rows, ran at half the speed). ci_block = cin_g gives plain
 * (tap, ci) order.
 */
fn wgrad_tap_ci(c: u32) -> vec2<u32> {
  let taps = params.k_h * params.k_w;
  let blk = params.ci_block;
  return vec2<u32>((c / blk) % taps, (c / (blk * taps)) * blk + c % blk);
}

fn wgrad_cols(g: u32, col: u32) -> WCols {
  var dy = vec4<i32>(0);
  var dx = vec4<i32>(0);
  var ch = vec4<u32>(0u);
  for (var j = 0u; j < 4u; j++) {
    let tc = wgrad_tap_ci(min(col + j, params.n - 1u));
    dy[j] = i32((tc.x / params.k_w) * params.dil_h) - i32(params.pad_h);
    dx[j] = i32((tc.x % params.k_w) * params.dil_w) - i32(params.pad_w);
    ch[j] = g * params.cin_g + tc.y;
  }
  return WCols(dy, dx, ch);
}

/** Four consecutive output positions of one batch item, and the (oy, ox) of the next one. */
struct Positions {
  /** Unshifted input rows and columns (oy·s_h, ox·s_w) of the four positions. */
  p: array<vec2<i32>, 4>,
  next: vec2<u32>,
}

/** (oy, ox) → the next output position along the rows, without an integer division. */
fn wgrad_step(at: vec2<u32>) -> vec2<u32> {
  let wrap = at.y + 1u == params.out_w;
  return vec2<u32>(select(at.x, at.x + 1u, wrap), select(at.y + 1u, 0u, wrap));
}

/** (oy, ox) → the unshifted input row and column (oy·s_h, ox·s_w). */
fn wgrad_source(at: vec2<u32>) -> vec2<i32> {
  return vec2<i32>(i32(at.x * params.stride_h), i32(at.y * params.stride_w));
}

/**
 * The positions from (oy, ox) = `at` on, walking along rows one step at a time: an integer
 * division per lane costs more than the step's FMAs on lavapipe.
 */
fn wgrad_positions(at: vec2<u32>) -> Positions {
  let a1 = wgrad_step(at);
  let a2 = wgrad_step(a1);
  let a3 = wgrad_step(a2);
  let p = array<vec2<i32>, 4>(wgrad_source(at), wgrad_source(a1), wgrad_source(a2),
    wgrad_source(a3));
  return Positions(p, wgrad_step(a3));
}

/** One row of B: x at position `pos` for the four columns, zero outside the input or if !live. */
fn wgrad_row(q: WCols, x_base: u32, pos: vec2<i32>, live: bool) -> vec4<f32> {
  let sy = vec4<i32>(pos.x) + q.dy;
  let sx = vec4<i32>(pos.y) + q.dx;
  // (WGSL requires parentheses where comparisons meet `&`; Chrome's compiler enforces it.)
  let inside = (sy >= vec4<i32>(0)) & (sx >= vec4<i32>(0)) &
    (vec4<u32>(max(sy, vec4<i32>(0))) < vec4<u32>(params.in_h)) &
    (vec4<u32>(max(sx, vec4<i32>(0))) < vec4<u32>(params.in_w));
  let ok = inside & vec4<bool>(live);
  if (B_VEC == 1u) {
    // The four columns are channels ch.x .. ch.x + 3 of one tap: one vec4 load.
    let idx = x_base + (u32(max(sy.x, 0)) * params.in_w + u32(max(sx.x, 0))) * params.cin + q.ch.x;
    return select(vec4<f32>(0.0), b4[idx / 4u], ok.x);
  }
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let idx = x_base + (u32(max(sy[j], 0)) * params.in_w + u32(max(sx[j], 0))) * params.cin + q.ch[j];
    v[j] = select(0.0, b[select(0u, idx, ok[j])], ok[j]);
  }
  return v;
}

/** B(k = positions p0 .. p0 + 3 of one batch item, four columns). */
fn wgrad_b_quad(q: WCols, x_base: u32, p: array<vec2<i32>, 4>, kmask: vec4<bool>) -> Quad {
  return Quad(
    wgrad_row(q, x_base, p[0], kmask.x),
    wgrad_row(q, x_base, p[1], kmask.y),
    wgrad_row(q, x_base, p[2], kmask.z),
    wgrad_row(q, x_base, p[3], kmask.w),
  );
}

fn wgrad_b_quad_if(q: WCols, x_base: u32, p: array<vec2<i32>, 4>, kmask: vec4<bool>, on: bool) -> Quad {
  if (on) {
    return wgrad_b_quad(q, x_base, p, kmask);
  }
  return zero_quad();
}

// ---- stores ----

/**
 * Where one output column lands: out[base + channel · stride] for each row's channel
 * (g·m + row), and whether the column exists.
 */
struct OutCol {
  base: u32,
  stride: u32,
  ok: bool,
}

fn out_col(py: u32, px: u32, col: u32) -> OutCol {
  if (MODE == 2u) {
    // dw[ch, ci, tap]: rows are n = cin_g·taps apart.
    let tc = wgrad_tap_ci(min(col, params.n - 1u));
    return OutCol(tc.y * params.k_h * params.k_w + tc.x, params.n, col < params.n);
  }
  var col_w = params.out_w;
  var col_hw = params.out_h * params.out_w;
  var channels = params.cout;
  var w_out = params.out_w;
  var hw = params.out_h * params.out_w;
  if (MODE == 1u) {
    col_w = params.q_w;
    col_hw = params.q_h * params.q_w;
    channels = params.cin;
    w_out = params.in_w;
    hw = params.in_h * params.in_w;
  }
  let c = min(col, params.n - 1u);
  let nb = c / col_hw;
  let pos = c % col_hw;
  var y = pos / col_w;
  var x = pos % col_w;
  var ok = col < params.n;
  if (MODE == 1u) {
    y = y * params.stride_h + py;
    x = x * params.stride_w + px;
    ok = ok && y < params.in_h && x < params.in_w;
  }
  return OutCol(nb * channels * hw + y * w_out + x, hw, ok);
}

/** out at `idx` for output channel `ch` = v, through MODES 0/1's epilogue. */
fn store_value(ch: u32, idx: u32, v: f32) {
  if (MODE == 2u) {
    out[idx] = v;
    return;
  }
  var o = v;
  if (params.has_bias != 0u) {
    o += bias[ch];
  }
  if (SAVE_PRE == 1u) {
    pre[idx] = o;
  }
  if (ACT == 1u) {
    o = forward(o, params.act_alpha);
  }
  out[idx] = o;
}

/** Column j (0..3) of rows r0 .. r0 + 3 (the tile q) at column `oc`. */
fn store_rows(g: u32, oc: OutCol, r0: u32, q: Quad, j: u32) {
  let v = vec4<f32>(q.r0[j], q.r1[j], q.r2[j], q.r3[j]);
  for (var i = 0u; i < 4u; i++) {
    let row = r0 + i;
    if (row < params.m) {
      let ch = g * params.m + row;
      store_value(ch, oc.base + ch * oc.stride, v[i]);
    }
  }
}

/**
 * Columns c .. c + 3 of the block: rows row0 .. row0 + BM − 1, given as the column quad's tile
 * of each strip (t0..t3). Each column's address is worked out once.
 */
fn store_columns(g: u32, py: u32, px: u32, row0: u32, c: u32, t0: Quad, t1: Quad, t2: Quad, t3: Quad) {
  for (var j = 0u; j < 4u; j++) {
    let oc = out_col(py, px, c + j);
    if (!oc.ok) {
      continue;
    }
    store_rows(g, oc, row0, t0, j);
    if (BM > 4u) {
      store_rows(g, oc, row0 + 4u, t1, j);
    }
    if (BM > 8u) {
      store_rows(g, oc, row0 + 8u, t2, j);
      store_rows(g, oc, row0 + 12u, t3, j);
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * BM;
  let col0 = gid.x * BN;
  let zq = zero_quad();
  let zs = Strip(zq, zq, zq, zq);
  // s<i> = out(row0 + 4i .. row0 + 4i + 3, col0 .. col0 + BN − 1).
  var s0 = zs;
  var s1 = zs;
  var s2 = zs;
  var s3 = zs;
  var g = gid.z;
  var py = 0u;
  var px = 0u;
  if (MODE == 2u) {
    let hw = params.out_h * params.out_w;
    let w0 = wgrad_cols(g, col0);
    let w1 = wgrad_cols(g, col0 + 4u);
    let w2 = wgrad_cols(g, col0 + 8u);
    let w3 = wgrad_cols(g, col0 + 12u);
    // a = dy[nb, g·cout_g + row, p]: row offsets within a batch item.
    let q0 = row_quad(0u, row0, hw);
    let q1 = row_quad(0u, row0 + 4u, hw);
    let q2 = row_quad(0u, row0 + 8u, hw);
    let q3 = row_quad(0u, row0 + 12u, hw);
    for (var nb = 0u; nb < params.batch; nb++) {
      let x_base = nb * params.in_h * params.in_w * params.cin;
      let dy_base = (nb * params.cout + g * params.cout_g) * hw;
      var at = vec2<u32>(0u);
      for (var p0 = 0u; p0 < hw; p0 += 4u) {
        let kmask = vec4<u32>(p0, p0 + 1u, p0 + 2u, p0 + 3u) < vec4<u32>(hw);
        let walk = wgrad_positions(at);
        let pos = walk.p;
        at = walk.next;
        let bs = Strip(
          wgrad_b_quad(w0, x_base, pos, kmask),
          wgrad_b_quad_if(w1, x_base, pos, kmask, BN > 4u),
          wgrad_b_quad_if(w2, x_base, pos, kmask, BN > 8u),
          wgrad_b_quad_if(w3, x_base, pos, kmask, BN > 8u),
        );
        let d = dy_base + p0;
        s0 = mac_strip(s0, a_quad(q0, d, kmask), bs);
        if (BM > 4u) {
          s1 = mac_strip(s1, a_quad(q1, d, kmask), bs);
        }
        if (BM > 8u) {
          s2 = mac_strip(s2, a_quad(q2, d, kmask), bs);
          s3 = mac_strip(s3, a_quad(q3, d, kmask), bs);
        }
      }
    }
  } else {
    // MODES 0 and 1: k = (tap, c); a is the weight permuted to [group, row, tap, c].
    g = gid.z / params.phases;
    let ph = gid.z % params.phases;
    py = ph / params.stride_w;
    px = ph % params.stride_w;
    let kk = params.k_h * params.k_w;
    var chans = params.cin_g; // C: channels summed per tap
    var src_ch = params.cin;
    var src_h = params.in_h;
    var src_w = params.in_w;
    var col_h = params.out_h; // column grid per batch item
    var col_w = params.out_w;
    if (MODE == 1u) {
      chans = params.cout_g;
      src_ch = params.cout;
      src_h = params.out_h;
      src_w = params.out_w;
      col_h = params.q_h;
      col_w = params.q_w;
    }
    let src_hw = src_h * src_w;
    let col_hw = col_h * col_w;
    let k0 = col_quad(g, col0, chans, src_ch, src_hw, col_w, col_hw);
    let k1 = col_quad(g, col0 + 4u, chans, src_ch, src_hw, col_w, col_hw);
    let k2 = col_quad(g, col0 + 8u, chans, src_ch, src_hw, col_w, col_hw);
    let k3 = col_quad(g, col0 + 12u, chans, src_ch, src_hw, col_w, col_hw);
    // Weight row offsets (tap 0, channel 0) of the block's rows, clamped.
    let rstride = kk * chans;
    let rbase = g * params.m * rstride;
    let q0 = row_quad(rbase, row0, rstride);
    let q1 = row_quad(rbase, row0 + 4u, rstride);
    let q2 = row_quad(rbase, row0 + 8u, rstride);
    let q3 = row_quad(rbase, row0 + 12u, rstride);
    for (var ti = 0u; ti < params.k_h; ti++) {
      var dy = i32(ti * params.dil_h);
      if (MODE == 1u) {
        // Input row iy = qy·s + py is fed by output row (iy + p − ti·d) / s when that divides.
        // Kept in u32 (shifted up by a multiple of s): % and / of negative i32 came out wrong
        // through Naga on NVIDIA's Vulkan driver and on GL.
        let shift = (ti * params.dil_h / params.stride_h + 1u) * params.stride_h;
        let num = py + params.pad_h + shift - ti * params.dil_h;
        if (num % params.stride_h != 0u) {
          continue;
        }
        dy = i32(num / params.stride_h) - i32(shift / params.stride_h);
      }
      for (var tj = 0u; tj < params.k_w; tj++) {
        var dx = i32(tj * params.dil_w);
        if (MODE == 1u) {
          let shift = (tj * params.dil_w / params.stride_w + 1u) * params.stride_w;
          let num = px + params.pad_w + shift - tj * params.dil_w;
          if (num % params.stride_w != 0u) {
            continue;
          }
          dx = i32(num / params.stride_w) - i32(shift / params.stride_w);
        }
        let t0 = src_quad(k0, dy, dx, src_h, src_w, src_ch);
        let t1 = src_quad(k1, dy, dx, src_h, src_w, src_ch);
        let t2 = src_quad(k2, dy, dx, src_h, src_w, src_ch);
        let t3 = src_quad(k3, dy, dx, src_h, src_w, src_ch);
        let t_off = (ti * params.k_w + tj) * chans;
        for (var c0 = 0u; c0 < chans; c0 += 4u) {
          let kmask = vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u) < vec4<u32>(chans);
          let bs = Strip(
            gemm_b_quad(t0, c0, chans, kmask),
            gemm_b_quad_if(t1, c0, chans, kmask, BN > 4u),
            gemm_b_quad_if(t2, c0, chans, kmask, BN > 8u),
            gemm_b_quad_if(t3, c0, chans, kmask, BN > 8u),
          );
          let w = t_off + c0;
          s0 = mac_strip(s0, a_quad(q0, w, kmask), bs);
          if (BM > 4u) {
            s1 = mac_strip(s1, a_quad(q1, w, kmask), bs);
          }
          if (BM > 8u) {
            s2 = mac_strip(s2, a_quad(q2, w, kmask), bs);
            s3 = mac_strip(s3, a_quad(q3, w, kmask), bs);
          }
        }
      }
    }
  }
  store_columns(g, py, px, row0, col0, s0.q0, s1.q0, s2.q0, s3.q0);
  if (BN > 4u) {
    store_columns(g, py, px, row0, col0 + 4u, s0.q1, s1.q1, s2.q1, s3.q1);
  }
  if (BN > 8u) {
    store_columns(g, py, px, row0, col0 + 8u, s0.q2, s1.q2, s2.q2, s3.q2);
    store_columns(g, py, px, row0, col0 + 12u, s0.q3, s1.q3, s2.q3, s3.q3);
  }
}
