// Convolution as an implicit GEMM: a register-blocked matrix product whose operand loads compute
// the im2col / col2im index on the fly, so the unfolded matrix never exists in memory.
// One kernel family for the three products of a (grouped, strided, padded, dilated) 2-D
// convolution; 1-D convolutions run as H = 1. Per group g, with T = k_h·k_w taps:
//
//   MODE 0, forward:        y[n, g·cout_g + r, oy, ox] = Σ_(tap, ci) W(r, tap, ci) · x(...)
//     a = weight permuted [cout, T, cin_g]            row r = out channel
//     b4 = x channels-last [batch, in_h·in_w, cin]    read at iy = oy·s − p + i·d (0 outside)
//     out = y [batch, cout, out_h, out_w]              column = (n, oy, ox); + bias if has_bias
//   MODE 1, input gradient (= transposed convolution forward), one grid-z slice per output
//   phase (py, px) = (iy mod stride_h, ix mod stride_w): only the taps with
//   (py + p − i·d) mod s = 0 feed that phase, so they are the only ones visited.
//     a = weight permuted [groups, cin_g, T, cout_g]  row r = in channel
//     b4 = dy channels-last [batch, out_h·out_w, cout] read at oy = (iy + p − i·d) / s
//     out = dx [batch, cin, in_h, in_w]                column = (n, qy, qx), iy = qy·s + py
//   MODE 2, weight gradient: dw[g·cout_g + r, (ci, i, j)] = Σ_(n, oy, ox) dy · im2col
//     a = dy [batch, cout, out_h, out_w]               row r = out channel, k = (n, pos)
//     b = x [batch, cin, in_h, in_w]                   column = (ci, i, j)
//     out = dw [cout, cin_g, k_h, k_w]
// engine/ops/conv.ts makes the permuted / channels-last copies (small strided copies). Every
// output element is written exactly once (MODE 2's batch sum runs inside the k loop): no atomics.
//
// Tiling: on lavapipe every storage load is a loop over the SIMD lanes and barriers are
// expensive, so there is no workgroup memory: each invocation holds a BM × BN block (BM rows,
// BN columns, BM, BN ∈ {4, 8}) and k advances 4 at a time with vec4 loads of a along k and
// (MODES 0/1) of b along channels (MODE 2 gathers b's im2col column as scalars); loads set the
// pace, so the bigger the block the better, as long as it stays in registers. Hence NAMED
// values, as in shaders/matmul.wgsl: sixteen vec4 accumulators c<i><l|h> (row i, columns 0..3 /
// 4..7), operands a0..a7 (a rows along k) and v0..v7 (b columns along k, regrouped into rows
// b<t><l|h>), per-column source data k0..k7 / s0..s7 and row offsets r0..r7, and every FMA
// written out (step4). Arrays indexed in loops (the earlier form) were kept in memory; named,
// 8 × 8 blocks run 1.8–2.9× the earlier default (4 × 4 arrays) on all three products. BM = 4 / BN = 4
// leave rows 4..7 / the `h` halves unused (those branches fold away: the constants are known at
// pipeline creation). A_VEC / B_VEC = 1 when the vec4 runs are 4-aligned; otherwise the vec4 is
// gathered from scalars. Workgroup WG_X × WG_Y invocations (WG_Y shrinks for layers with few
// rows; WG_X ≥ 8 keeps the 8 SIMD lanes on one block row); grid (ceil(n/(WG_X·BN)),
// ceil(m/(BM·WG_Y)), groups · phases). BM, BN, WG_X, WG_Y are chosen by engine/ops/conv.ts
// (tuned per adapter by engine/autotune.ts). Dispatched by engine/ops/conv.ts (conv1d, conv2d,
// convTranspose1d, grads).
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
}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> b4: array<vec4<f32>>;

override MODE: u32 = 0u;
override A_VEC: u32 = 0u;
override B_VEC: u32 = 0u;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override BM: u32 = 8u;
override BN: u32 = 8u;

fn a_at(idx: u32) -> f32 {
  return a[idx / 4u][idx % 4u];
}

fn load_a4(idx: u32) -> vec4<f32> {
  if (A_VEC == 1u) {
    return a[idx / 4u];
  }
  return vec4<f32>(a_at(idx), a_at(idx + 1u), a_at(idx + 2u), a_at(idx + 3u));
}

fn b4_at(idx: u32) -> f32 {
  return b4[idx / 4u][idx % 4u];
}

// Channels c0 .. c0 + 3 of the channels-last source at element offset idx (c0 excluded).
fn b4_chans(idx: u32, c0: u32, chans: u32) -> vec4<f32> {
  if (B_VEC == 1u) {
    return b4[(idx + c0) / 4u];
  }
  let last = chans - 1u;
  return vec4<f32>(
    b4_at(idx + min(c0, last)),
    b4_at(idx + min(c0 + 1u, last)),
    b4_at(idx + min(c0 + 2u, last)),
    b4_at(idx + min(c0 + 3u, last)),
  );
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

// Where one output column reads its source (MODES 0/1: channels-last offset of its batch item
// and group, and its unshifted source row and column; MODE 2: x offset of its channel and the
// tap's shifts).
struct Col {
  base: u32,
  y: i32,
  x: i32,
}

// One column's source at one tap: channels-last element offset, and whether it is inside.
struct Src {
  off: u32,
  ok: bool,
}

fn src_at(c: Col, dy: i32, dx: i32, src_h: u32, src_w: u32, src_ch: u32) -> Src {
  let sy = c.y + dy;
  let sx = c.x + dx;
  let ok = sy >= 0 && sx >= 0 && u32(sy) < src_h && u32(sx) < src_w;
  return Src(select(0u, c.base + (u32(sy) * src_w + u32(sx)) * src_ch, ok), ok);
}

// Channels c0 .. c0 + 3 of a column's source (a vec4 along k), zero outside.
fn b_col(s: Src, c0: u32, chans: u32, kmask: vec4<bool>) -> vec4<f32> {
  let v = select(vec4<f32>(0.0), b4_chans(s.off, c0, chans), kmask);
  return select(vec4<f32>(0.0), v, s.ok);
}

// MODE 2: x at column c for the k steps p0 .. p0 + 3 (positions of one batch item), zero
// outside the input or past the positions (kmask).
fn x_col(c: Col, x_base: u32, p0: u32, kmask: vec4<bool>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  let hw = params.out_h * params.out_w;
  for (var t = 0u; t < 4u; t++) {
    let pos = min(p0 + t, hw - 1u);
    let sy = i32((pos / params.out_w) * params.stride_h) + c.y;
    let sx = i32((pos % params.out_w) * params.stride_w) + c.x;
    let ok = kmask[t] && sy >= 0 && sx >= 0 && u32(sy) < params.in_h && u32(sx) < params.in_w;
    let idx = select(0u, x_base + c.base + u32(sy) * params.in_w + u32(sx), ok);
    v[t] = select(0.0, b[idx], ok);
  }
  return v;
}

// MODE 2's column: (ci, tap) of the weight gradient, clamped into range.
fn wgrad_col(g: u32, col: u32) -> Col {
  let kk = params.k_h * params.k_w;
  let c = min(col, params.n - 1u);
  let tap = c % kk;
  return Col(
    (g * params.cin_g + c / kk) * params.in_h * params.in_w,
    i32((tap / params.k_w) * params.dil_h) - i32(params.pad_h),
    i32((tap % params.k_w) * params.dil_w) - i32(params.pad_w),
  );
}

// MODES 0/1's column: batch item, group offset and unshifted source position, clamped.
fn gemm_col(
  g: u32,
  col: u32,
  chans: u32,
  src_ch: u32,
  src_hw: u32,
  col_w: u32,
  col_hw: u32,
) -> Col {
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

// MODE 2: out rows r0 .. r0 + 3 of column col (dw[g·cout_g + r, col]), inside only.
fn store_wgrad(g: u32, r0: u32, col: u32, v: vec4<f32>) {
  if (col >= params.n) {
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    let row = r0 + i;
    if (row < params.m) {
      out[(g * params.cout_g + row) * params.n + col] = v[i];
    }
  }
}

// MODES 0/1: out rows r0 .. r0 + 3 (channels g·m + r) of column col, + bias, inside only.
fn store_gemm(g: u32, py: u32, px: u32, r0: u32, col: u32, v: vec4<f32>) {
  if (col >= params.n) {
    return;
  }
  var col_h = params.out_h;
  var col_w = params.out_w;
  var channels = params.cout;
  var w_out = params.out_w;
  var hw = params.out_h * params.out_w;
  if (MODE == 1u) {
    col_h = params.q_h;
    col_w = params.q_w;
    channels = params.cin;
    w_out = params.in_w;
    hw = params.in_h * params.in_w;
  }
  let col_hw = col_h * col_w;
  let nb = col / col_hw;
  let pos = col % col_hw;
  var y = pos / col_w;
  var x = pos % col_w;
  if (MODE == 1u) {
    y = y * params.stride_h + py;
    x = x * params.stride_w + px;
    if (y >= params.in_h || x >= params.in_w) {
      return;
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let row = r0 + i;
    if (row < params.m) {
      let ch = g * params.m + row;
      var o = v[i];
      if (params.has_bias != 0u) {
        o += bias[ch];
      }
      out[((nb * channels + ch) * hw) + y * w_out + x] = o;
    }
  }
}

// The 4 × 4 sub-block out(r0 .. r0 + 3, c0 .. c0 + 3), given as its rows q0 .. q3.
fn store_quad(
  g: u32,
  py: u32,
  px: u32,
  r0: u32,
  c0: u32,
  q0: vec4<f32>,
  q1: vec4<f32>,
  q2: vec4<f32>,
  q3: vec4<f32>,
) {
  for (var j = 0u; j < 4u; j++) {
    let v = vec4<f32>(q0[j], q1[j], q2[j], q3[j]);
    if (MODE == 2u) {
      store_wgrad(g, r0, c0 + j, v);
    } else {
      store_gemm(g, py, px, r0, c0 + j, v);
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * BM;
  let col0 = gid.x * BN;
  let z = vec4<f32>(0.0);
  // Accumulators: c<i><l|h> = out(row0 + i, col0 .. col0 + 3 | col0 + 4 .. col0 + 7).
  var c0l = z;
  var c0h = z;
  var c1l = z;
  var c1h = z;
  var c2l = z;
  var c2h = z;
  var c3l = z;
  var c3h = z;
  var c4l = z;
  var c4h = z;
  var c5l = z;
  var c5h = z;
  var c6l = z;
  var c6h = z;
  var c7l = z;
  var c7h = z;
  // Operands of one k step of 4: a<i> = A(row0 + i, k .. k + 3); v<j> = B(k .. k + 3,
  // col0 + j) (a vec4 along k), turned into rows b<t><l|h> = B(k + t, col0 .. + 3 | + 4 .. + 7).
  var a0 = z;
  var a1 = z;
  var a2 = z;
  var a3 = z;
  var a4 = z;
  var a5 = z;
  var a6 = z;
  var a7 = z;
  var v0 = z;
  var v1 = z;
  var v2 = z;
  var v3 = z;
  var v4 = z;
  var v5 = z;
  var v6 = z;
  var v7 = z;
  var g = gid.z;
  var py = 0u;
  var px = 0u;
  if (MODE == 2u) {
    let hw = params.out_h * params.out_w;
    let k0 = wgrad_col(g, col0);
    let k1 = wgrad_col(g, col0 + 1u);
    let k2 = wgrad_col(g, col0 + 2u);
    let k3 = wgrad_col(g, col0 + 3u);
    let k4 = wgrad_col(g, col0 + 4u);
    let k5 = wgrad_col(g, col0 + 5u);
    let k6 = wgrad_col(g, col0 + 6u);
    let k7 = wgrad_col(g, col0 + 7u);
    // a = dy[nb, g·cout_g + row, p]: row offsets within a batch item.
    let r0 = min(row0, params.m - 1u) * hw;
    let r1 = min(row0 + 1u, params.m - 1u) * hw;
    let r2 = min(row0 + 2u, params.m - 1u) * hw;
    let r3 = min(row0 + 3u, params.m - 1u) * hw;
    let r4 = min(row0 + 4u, params.m - 1u) * hw;
    let r5 = min(row0 + 5u, params.m - 1u) * hw;
    let r6 = min(row0 + 6u, params.m - 1u) * hw;
    let r7 = min(row0 + 7u, params.m - 1u) * hw;
    for (var nb = 0u; nb < params.batch; nb++) {
      let x_base = nb * params.cin * params.in_h * params.in_w;
      let dy_base = (nb * params.cout + g * params.cout_g) * hw;
      for (var p0 = 0u; p0 < hw; p0 += 4u) {
        let kmask = vec4<u32>(p0, p0 + 1u, p0 + 2u, p0 + 3u) < vec4<u32>(hw);
        let d = dy_base + p0;
        a0 = select(z, load_a4(d + r0), kmask);
        a1 = select(z, load_a4(d + r1), kmask);
        a2 = select(z, load_a4(d + r2), kmask);
        a3 = select(z, load_a4(d + r3), kmask);
        if (BM == 8u) {
          a4 = select(z, load_a4(d + r4), kmask);
          a5 = select(z, load_a4(d + r5), kmask);
          a6 = select(z, load_a4(d + r6), kmask);
          a7 = select(z, load_a4(d + r7), kmask);
        }
        v0 = x_col(k0, x_base, p0, kmask);
        v1 = x_col(k1, x_base, p0, kmask);
        v2 = x_col(k2, x_base, p0, kmask);
        v3 = x_col(k3, x_base, p0, kmask);
        if (BN == 8u) {
          v4 = x_col(k4, x_base, p0, kmask);
          v5 = x_col(k5, x_base, p0, kmask);
          v6 = x_col(k6, x_base, p0, kmask);
          v7 = x_col(k7, x_base, p0, kmask);
        }
        let b0l = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
        let b1l = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
        let b2l = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
        let b3l = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
        c0l = step4(c0l, a0, b0l, b1l, b2l, b3l);
        c1l = step4(c1l, a1, b0l, b1l, b2l, b3l);
        c2l = step4(c2l, a2, b0l, b1l, b2l, b3l);
        c3l = step4(c3l, a3, b0l, b1l, b2l, b3l);
        if (BM == 8u) {
          c4l = step4(c4l, a4, b0l, b1l, b2l, b3l);
          c5l = step4(c5l, a5, b0l, b1l, b2l, b3l);
          c6l = step4(c6l, a6, b0l, b1l, b2l, b3l);
          c7l = step4(c7l, a7, b0l, b1l, b2l, b3l);
        }
        if (BN == 8u) {
          let b0h = vec4<f32>(v4.x, v5.x, v6.x, v7.x);
          let b1h = vec4<f32>(v4.y, v5.y, v6.y, v7.y);
          let b2h = vec4<f32>(v4.z, v5.z, v6.z, v7.z);
          let b3h = vec4<f32>(v4.w, v5.w, v6.w, v7.w);
          c0h = step4(c0h, a0, b0h, b1h, b2h, b3h);
          c1h = step4(c1h, a1, b0h, b1h, b2h, b3h);
          c2h = step4(c2h, a2, b0h, b1h, b2h, b3h);
          c3h = step4(c3h, a3, b0h, b1h, b2h, b3h);
          if (BM == 8u) {
            c4h = step4(c4h, a4, b0h, b1h, b2h, b3h);
            c5h = step4(c5h, a5, b0h, b1h, b2h, b3h);
            c6h = step4(c6h, a6, b0h, b1h, b2h, b3h);
            c7h = step4(c7h, a7, b0h, b1h, b2h, b3h);
          }
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
    let k0 = gemm_col(g, col0, chans, src_ch, src_hw, col_w, col_hw);
    let k1 = gemm_col(g, col0 + 1u, chans, src_ch, src_hw, col_w, col_hw);
    let k2 = gemm_col(g, col0 + 2u, chans, src_ch, src_hw, col_w, col_hw);
    let k3 = gemm_col(g, col0 + 3u, chans, src_ch, src_hw, col_w, col_hw);
    let k4 = gemm_col(g, col0 + 4u, chans, src_ch, src_hw, col_w, col_hw);
    let k5 = gemm_col(g, col0 + 5u, chans, src_ch, src_hw, col_w, col_hw);
    let k6 = gemm_col(g, col0 + 6u, chans, src_ch, src_hw, col_w, col_hw);
    let k7 = gemm_col(g, col0 + 7u, chans, src_ch, src_hw, col_w, col_hw);
    // Weight row offsets (tap 0, channel 0) of the block's rows, clamped.
    let rstride = kk * chans;
    let r0 = (g * params.m + min(row0, params.m - 1u)) * rstride;
    let r1 = (g * params.m + min(row0 + 1u, params.m - 1u)) * rstride;
    let r2 = (g * params.m + min(row0 + 2u, params.m - 1u)) * rstride;
    let r3 = (g * params.m + min(row0 + 3u, params.m - 1u)) * rstride;
    let r4 = (g * params.m + min(row0 + 4u, params.m - 1u)) * rstride;
    let r5 = (g * params.m + min(row0 + 5u, params.m - 1u)) * rstride;
    let r6 = (g * params.m + min(row0 + 6u, params.m - 1u)) * rstride;
    let r7 = (g * params.m + min(row0 + 7u, params.m - 1u)) * rstride;
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
        let s0 = src_at(k0, dy, dx, src_h, src_w, src_ch);
        let s1 = src_at(k1, dy, dx, src_h, src_w, src_ch);
        let s2 = src_at(k2, dy, dx, src_h, src_w, src_ch);
        let s3 = src_at(k3, dy, dx, src_h, src_w, src_ch);
        let s4 = src_at(k4, dy, dx, src_h, src_w, src_ch);
        let s5 = src_at(k5, dy, dx, src_h, src_w, src_ch);
        let s6 = src_at(k6, dy, dx, src_h, src_w, src_ch);
        let s7 = src_at(k7, dy, dx, src_h, src_w, src_ch);
        let t_off = (ti * params.k_w + tj) * chans;
        for (var c0 = 0u; c0 < chans; c0 += 4u) {
          let kmask = vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u) < vec4<u32>(chans);
          let w = t_off + c0;
          a0 = select(z, load_a4(r0 + w), kmask);
          a1 = select(z, load_a4(r1 + w), kmask);
          a2 = select(z, load_a4(r2 + w), kmask);
          a3 = select(z, load_a4(r3 + w), kmask);
          if (BM == 8u) {
            a4 = select(z, load_a4(r4 + w), kmask);
            a5 = select(z, load_a4(r5 + w), kmask);
            a6 = select(z, load_a4(r6 + w), kmask);
            a7 = select(z, load_a4(r7 + w), kmask);
          }
          v0 = b_col(s0, c0, chans, kmask);
          v1 = b_col(s1, c0, chans, kmask);
          v2 = b_col(s2, c0, chans, kmask);
          v3 = b_col(s3, c0, chans, kmask);
          if (BN == 8u) {
            v4 = b_col(s4, c0, chans, kmask);
            v5 = b_col(s5, c0, chans, kmask);
            v6 = b_col(s6, c0, chans, kmask);
            v7 = b_col(s7, c0, chans, kmask);
          }
          let b0l = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
        let b1l = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
        let b2l = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
        let b3l = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
        c0l = step4(c0l, a0, b0l, b1l, b2l, b3l);
        c1l = step4(c1l, a1, b0l, b1l, b2l, b3l);
        c2l = step4(c2l, a2, b0l, b1l, b2l, b3l);
        c3l = step4(c3l, a3, b0l, b1l, b2l, b3l);
        if (BM == 8u) {
          c4l = step4(c4l, a4, b0l, b1l, b2l, b3l);
          c5l = step4(c5l, a5, b0l, b1l, b2l, b3l);
          c6l = step4(c6l, a6, b0l, b1l, b2l, b3l);
          c7l = step4(c7l, a7, b0l, b1l, b2l, b3l);
        }
        if (BN == 8u) {
          let b0h = vec4<f32>(v4.x, v5.x, v6.x, v7.x);
          let b1h = vec4<f32>(v4.y, v5.y, v6.y, v7.y);
          let b2h = vec4<f32>(v4.z, v5.z, v6.z, v7.z);
          let b3h = vec4<f32>(v4.w, v5.w, v6.w, v7.w);
          c0h = step4(c0h, a0, b0h, b1h, b2h, b3h);
          c1h = step4(c1h, a1, b0h, b1h, b2h, b3h);
          c2h = step4(c2h, a2, b0h, b1h, b2h, b3h);
          c3h = step4(c3h, a3, b0h, b1h, b2h, b3h);
          if (BM == 8u) {
            c4h = step4(c4h, a4, b0h, b1h, b2h, b3h);
            c5h = step4(c5h, a5, b0h, b1h, b2h, b3h);
            c6h = step4(c6h, a6, b0h, b1h, b2h, b3h);
            c7h = step4(c7h, a7, b0h, b1h, b2h, b3h);
          }
        }
        }
      }
    }
  }
  store_quad(g, py, px, row0, col0, c0l, c1l, c2l, c3l);
  if (BM == 8u) {
    store_quad(g, py, px, row0 + 4u, col0, c4l, c5l, c6l, c7l);
  }
  if (BN == 8u) {
    store_quad(g, py, px, row0, col0 + 4u, c0h, c1h, c2h, c3h);
    if (BM == 8u) {
      store_quad(g, py, px, row0 + 4u, col0 + 4u, c4h, c5h, c6h, c7h);
    }
  }
}
