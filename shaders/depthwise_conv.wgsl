// Depthwise 1-D convolution (groups = channels, one filter per channel) and its two gradients,
// dispatched by engine/ops/depthwise_conv.ts:
//   forward:     y[n, t, c]  = bias[c] + Σ_k w[c, k] · x[n, t·stride + k·dilation − padding, c]
//   input_grad:  dx[n, s, c] = Σ_{t, k : t·stride + k·dilation − padding = s} dy[n, t, c] · w[c, k]
//   weight_grad: dw[c, k]    = Σ_{n, t} dy[n, t, c] · x[n, t·stride + k·dilation − padding, c]
// Positions outside [0, in_len) read as zero. w is [channels, kernel] row-major (PyTorch's
// [C, 1, K]). x, y, dx, dy are [batch, len, channels] when CHANNELS_LAST = 1 (consecutive
// threads then read consecutive channels), else [batch, channels, len] (PyTorch's conv1d layout).
// The generic implicit-GEMM convolution (conv.wgsl) runs a depthwise layer as `channels` products
// of one row each, wasting all but one row of every tile; here each thread does K multiply-adds.
// forward / input_grad: 256 threads, one output element each; 2-D grid (grid1d in runtime.ts).
// weight_grad: one workgroup of 64 threads per (c, k), a strided sum over batch × out_len, then
// a tree reduction in workgroup memory.
struct Params {
  batch: u32,
  channels: u32,
  in_len: u32,
  out_len: u32,
  kernel: u32,
  stride: u32,
  padding: u32,
  dilation: u32,
  has_bias: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

override CHANNELS_LAST: u32 = 0u;

var<workgroup> partial: array<f32, 64>;

// Flat index of (n, position, c) in a tensor of `len` positions.
fn at(n: u32, pos: u32, c: u32, len: u32) -> u32 {
  if (CHANNELS_LAST == 1u) {
    return (n * len + pos) * params.channels + c;
  }
  return (n * params.channels + c) * len + pos;
}

// (n, position, c) of flat index i in a tensor of `len` positions.
fn coords(i: u32, len: u32) -> vec3u {
  let ch = params.channels;
  if (CHANNELS_LAST == 1u) {
    return vec3u(i / (len * ch), (i / ch) % len, i % ch);
  }
  return vec3u(i / (ch * len), i % len, (i / len) % ch);
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.batch * params.channels * params.out_len) {
    return;
  }
  let p = coords(i, params.out_len);
  var acc = 0.0;
  if (params.has_bias == 1u) {
    acc = bias[p.z];
  }
  let base = i32(p.y * params.stride) - i32(params.padding);
  for (var k = 0u; k < params.kernel; k++) {
    let pos = base + i32(k * params.dilation);
    if (pos >= 0 && pos < i32(params.in_len)) {
      acc += w[p.z * params.kernel + k] * x[at(p.x, u32(pos), p.z, params.in_len)];
    }
  }
  y[i] = acc;
}

@compute @workgroup_size(256)
fn input_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.batch * params.channels * params.in_len) {
    return;
  }
  let p = coords(i, params.in_len);
  var acc = 0.0;
  for (var k = 0u; k < params.kernel; k++) {
    let num = i32(p.y + params.padding) - i32(k * params.dilation);
    if (num >= 0 && u32(num) % params.stride == 0u) {
      let t = u32(num) / params.stride;
      if (t < params.out_len) {
        acc += dy[at(p.x, t, p.z, params.out_len)] * w[p.z * params.kernel + k];
      }
    }
  }
  dx[i] = acc;
}

@compute @workgroup_size(64)
fn weight_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let idx = wid.y * nwg.x + wid.x;
  let valid = idx < params.channels * params.kernel;
  var acc = 0.0;
  if (valid) {
    let c = idx / params.kernel;
    let k = idx % params.kernel;
    let total = params.batch * params.out_len;
    for (var j = lid; j < total; j += 64u) {
      let n = j / params.out_len;
      let t = j % params.out_len;
      let pos = i32(t * params.stride + k * params.dilation) - i32(params.padding);
      if (pos >= 0 && pos < i32(params.in_len)) {
        acc += dy[at(n, t, c, params.out_len)] * x[at(n, u32(pos), c, params.in_len)];
      }
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) {
      partial[lid] += partial[lid + s];
    }
    workgroupBarrier();
  }
  if (valid && lid == 0u) {
    dw[idx] = partial[0];
  }
}
