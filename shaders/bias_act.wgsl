// Gradient of a fused "+ bias, then activation" epilogue (shaders/conv.wgsl, shaders/matmul.wgsl):
// for y = f(pre), pre = z + bias[c], given dy:
//   dpre = dy · f'(pre)     (ACT = 1; f' = derivative() of shaders/unary_functions.wgsl, op OP,
//                            scalar alpha, prepended by engine/ops/bias_act.ts; ACT = 0: dpre = dy)
//   dbias[c] = Σ over items and positions of dpre[item, c, position]
// in one pass, so the activation's backward, the bias gradient and the channels-last copy the
// convolutions' gradients read are one dispatch instead of three.
// Layout: dy, pre and dpre_out are [items, channels, positions] (conv: [N, C, H·W]; linear:
// [rows, features] with positions = 1); dpre_cl is [items, positions, channels] (channels last).
// Each output is written only when its flag is set (NEED_NCW, NEED_CL, NEED_BIAS).
// Workgroup: 256 threads per channel c (grid: one workgroup per channel, 2-D via grid1d for
// many channels), a grid-stride loop over the channel's items × positions, then a tree sum in
// workgroup memory for dbias[c]. Dispatched by engine/ops/bias_act.ts.
struct Params {
  items: u32,
  channels: u32,
  positions: u32,
  alpha: f32,
}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> dpre_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> dpre_cl: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

override ACT: u32 = 1u;
override NEED_NCW: u32 = 1u;
override NEED_CL: u32 = 1u;
override NEED_BIAS: u32 = 1u;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.y * nwg.x + wid.x;
  if (c >= params.channels) {
    return;
  }
  let p_count = params.positions;
  let total = params.items * p_count;
  var acc = 0.0;
  for (var i = lid; i < total; i += 256u) {
    let item = i / p_count;
    let p = i - item * p_count;
    let idx = (item * params.channels + c) * p_count + p;
    var d = dy[idx];
    if (ACT == 1u) {
      let x = pre[idx];
      d *= derivative(x, forward(x, params.alpha), params.alpha);
    }
    if (NEED_NCW == 1u) {
      dpre_out[idx] = d;
    }
    if (NEED_CL == 1u) {
      dpre_cl[(item * p_count + p) * params.channels + c] = d;
    }
    acc += d;
  }
  if (NEED_BIAS == 1u) {
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
      if (lid < s) {
        partial[lid] += partial[lid + s];
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      dbias[c] = partial[0];
    }
  }
}
