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
override WG: u32 = 64u;
const TM: u32 = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let batch = wid.z;
  let row0 = wid.y * TM;
  let col = wid.x * WG + lid.x;
  let colc = min(col, params.n - 1u);
  let a_base = batch * params.a_batch_stride;
  let b_base = batch * params.b_batch_stride;
  var rows: array<u32, TM>;
  for (var i = 0u; i < TM; i++) {
    rows[i] = min(row0 + i, params.m - 1u);
  }
  var acc: array<f32, TM>;
  for (var k = 0u; k < params.k; k++) {
    var bv: f32;
    if (TRANS_B == 1u) {
      bv = b[b_base + colc * params.k + k];
    } else {
      bv = b[b_base + k * params.n + colc];
    }
    for (var i = 0u; i < TM; i++) {
      var av: f32;
      if (TRANS_A == 1u) {
        av = a[a_base + k * params.m + rows[i]];
      } else {
        av = a[a_base + rows[i] * params.k + k];
      }
      acc[i] = fma(av, bv, acc[i]);
    }
  }
  if (col >= params.n) {
    return;
  }
  let out_base = batch * params.m * params.n;
  for (var i = 0u; i < TM; i++) {
    if (row0 + i < params.m) {
      out[out_base + (row0 + i) * params.n + col] = acc[i];
    }
  }
}
