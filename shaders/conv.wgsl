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
// Tiling: on lavapipe every storage load is a loop over the SIMD lanes (a vec4 costs about one
// scalar) and barriers are expensive, so there is no workgroup memory: each invocation holds a
// BM × BN block (BM rows, BN columns, BM, BN ∈ {4, 8}; BM·BN/4 vec4 accumulators — the arrays are
// sized for 8 × 8 and the unused tail is dead code once the constants are known) and k advances
// 4 at a time with vec4 loads of a along k and (MODES 0/1) of b along channels. A_VEC / B_VEC = 1
// when those runs are 4-aligned; otherwise the vec4 is gathered from scalars. Workgroup
// WG_X × WG_Y invocations (WG_Y shrinks for layers with few rows); grid (ceil(n/(WG_X·BN)),
// ceil(m/(BM·WG_Y)), groups · phases). BM, BN, WG_X, WG_Y are chosen by engine/ops/conv.ts
// (tuned per adapter by engine/autotune.ts). Dispatched by engine/ops/conv.ts (conv1d, conv2d, convTranspose1d, grads).
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

fn a4(idx: u32) -> vec4<f32> {
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

fn fma_block(acc: ptr<function, array<vec4<f32>, 16>>, av: ptr<function, array<vec4<f32>, 8>>,
             bv: ptr<function, array<vec4<f32>, 8>>) {
  let hn = BN / 4u;
  for (var t = 0u; t < 4u; t++) {
    let b_lo = vec4<f32>((*bv)[0][t], (*bv)[1][t], (*bv)[2][t], (*bv)[3][t]);
    let b_hi = vec4<f32>((*bv)[4][t], (*bv)[5][t], (*bv)[6][t], (*bv)[7][t]);
    for (var i = 0u; i < BM; i++) {
      let ai = vec4<f32>((*av)[i][t]);
      (*acc)[i * hn] = fma(ai, b_lo, (*acc)[i * hn]);
      if (BN == 8u) {
        (*acc)[i * hn + 1u] = fma(ai, b_hi, (*acc)[i * hn + 1u]);
      }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * BM;
  let col0 = gid.x * BN;
  var acc: array<vec4<f32>, 16>;
  var av: array<vec4<f32>, 8>;
  var bv: array<vec4<f32>, 8>; // bv[j][t]: column j, k step t
  if (MODE == 2u) {
    let g = gid.z;
    let kk = params.k_h * params.k_w;
    let in_hw = params.in_h * params.in_w;
    let hw = params.out_h * params.out_w;
    var cbase: array<u32, 8>;
    var ty: array<i32, 8>;
    var tx: array<i32, 8>;
    for (var j = 0u; j < BN; j++) {
      let col = min(col0 + j, params.n - 1u);
      let tap = col % kk;
      cbase[j] = (g * params.cin_g + col / kk) * in_hw;
      ty[j] = i32((tap / params.k_w) * params.dil_h) - i32(params.pad_h);
      tx[j] = i32((tap % params.k_w) * params.dil_w) - i32(params.pad_w);
    }
    for (var nb = 0u; nb < params.batch; nb++) {
      let x_base = nb * params.cin * in_hw;
      let dy_base = (nb * params.cout + g * params.cout_g) * hw;
      for (var p0 = 0u; p0 < hw; p0 += 4u) {
        let kmask = vec4<u32>(p0, p0 + 1u, p0 + 2u, p0 + 3u) < vec4<u32>(hw);
        for (var i = 0u; i < BM; i++) {
          let row = min(row0 + i, params.m - 1u);
          av[i] = select(vec4<f32>(0.0), a4(dy_base + row * hw + p0), kmask);
        }
        for (var t = 0u; t < 4u; t++) {
          let pos = min(p0 + t, hw - 1u);
          let sy0 = i32((pos / params.out_w) * params.stride_h);
          let sx0 = i32((pos % params.out_w) * params.stride_w);
          for (var j = 0u; j < BN; j++) {
            let sy = sy0 + ty[j];
            let sx = sx0 + tx[j];
            let ok = kmask[t] && sy >= 0 && sx >= 0 && u32(sy) < params.in_h &&
              u32(sx) < params.in_w;
            let idx = select(0u, x_base + cbase[j] + u32(sy) * params.in_w + u32(sx), ok);
            bv[j][t] = select(0.0, b[idx], ok);
          }
        }
        fma_block(&acc, &av, &bv);
      }
    }
    for (var i = 0u; i < BM; i++) {
      let row = row0 + i;
      for (var j = 0u; j < BN; j++) {
        let col = col0 + j;
        if (row < params.m && col < params.n) {
          out[(g * params.cout_g + row) * params.n + col] = acc[i * (BN / 4u) + j / 4u][j % 4u];
        }
      }
    }
    return;
  }
  // MODES 0 and 1: k = (tap, c); a is the weight permuted to [group, row, tap, c].
  let g = gid.z / params.phases;
  let ph = gid.z % params.phases;
  let py = ph / params.stride_w;
  let px = ph % params.stride_w;
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
  var cbase: array<u32, 8>;
  var cy: array<i32, 8>;
  var cx: array<i32, 8>;
  for (var j = 0u; j < BN; j++) {
    let col = min(col0 + j, params.n - 1u);
    let nb = col / col_hw;
    let pos = col % col_hw;
    cbase[j] = nb * src_hw * src_ch + g * chans;
    if (MODE == 0u) {
      cy[j] = i32((pos / col_w) * params.stride_h) - i32(params.pad_h);
      cx[j] = i32((pos % col_w) * params.stride_w) - i32(params.pad_w);
    } else {
      cy[j] = i32(pos / col_w);
      cx[j] = i32(pos % col_w);
    }
  }
  var offs: array<u32, 8>;
  var oks: array<bool, 8>;
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
      for (var j = 0u; j < BN; j++) {
        let sy = cy[j] + dy;
        let sx = cx[j] + dx;
        oks[j] = sy >= 0 && sx >= 0 && u32(sy) < src_h && u32(sx) < src_w;
        offs[j] = select(0u, cbase[j] + (u32(sy) * src_w + u32(sx)) * src_ch, oks[j]);
      }
      let tap = ti * params.k_w + tj;
      for (var c0 = 0u; c0 < chans; c0 += 4u) {
        let kmask = vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u) < vec4<u32>(chans);
        for (var i = 0u; i < BM; i++) {
          let row = min(row0 + i, params.m - 1u);
          av[i] = select(vec4<f32>(0.0), a4(((g * params.m + row) * kk + tap) * chans + c0), kmask);
        }
        for (var j = 0u; j < BN; j++) {
          let v = select(vec4<f32>(0.0), b4_chans(offs[j], c0, chans), kmask);
          bv[j] = select(vec4<f32>(0.0), v, oks[j]);
        }
        fma_block(&acc, &av, &bv);
      }
    }
  }
  var channels = params.cout;
  var hw = params.out_h * params.out_w;
  if (MODE == 1u) {
    channels = params.cin;
    hw = params.in_h * params.in_w;
  }
  for (var j = 0u; j < BN; j++) {
    let col = col0 + j;
    if (col >= params.n) {
      continue;
    }
    let nb = col / col_hw;
    let pos = col % col_hw;
    var y = pos / col_w;
    var x = pos % col_w;
    if (MODE == 1u) {
      y = y * params.stride_h + py;
      x = x * params.stride_w + px;
      if (y >= params.in_h || x >= params.in_w) {
        continue;
      }
    }
    let w_out = select(params.out_w, params.in_w, MODE == 1u);
    for (var i = 0u; i < BM; i++) {
      let row = row0 + i;
      if (row < params.m) {
        let ch = g * params.m + row;
        var v = acc[i * (BN / 4u) + j / 4u][j % 4u];
        if (params.has_bias != 0u) {
          v += bias[ch];
        }
        out[((nb * channels + ch) * hw) + y * w_out + x] = v;
      }
    }
  }
}
