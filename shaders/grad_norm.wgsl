// Global L2 norm of many gradient tensors and in-place clipping, without a CPU readback
// (torch.nn.utils.clip_grad_norm_). Three entry points, dispatched in this order by
// engine/optim/clip.ts:
//   sum_squares: partials[slot + w] = Σ x[i]² over the elements i ≡ w·256 + lid (mod G·256) of
//                one tensor, for its G workgroups w (a grid-stride loop, then a tree reduction
//                in workgroup memory). Each tensor gets its own run of slots.
//   finalize:    one workgroup sums partials[0 .. count) into the norm:
//                norm[0] = √Σ, coef[0] = min(1, max_norm / (norm + 1e-6)).
//   scale:       x[i] *= coef[0] for one tensor (2-D grid, grid1d in runtime.ts).
// Layout: x, partials, norm, coef are flat f32 arrays. Workgroup 256 everywhere.
struct Params {
  n: u32,
  slot: u32,
  count: u32,
  max_norm: f32,
}
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> coef: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> shared_sum: array<f32, 256>;

fn tree_sum(lid: u32) {
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) {
      shared_sum[lid] += shared_sum[lid + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn sum_squares(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = wid.x * 256u + lid; i < params.n; i += nwg.x * 256u) {
    let g = x[i];
    acc += g * g;
  }
  shared_sum[lid] = acc;
  tree_sum(lid);
  if (lid == 0u) {
    partials[params.slot + wid.x] = shared_sum[0];
  }
}

@compute @workgroup_size(256)
fn finalize(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < params.count; i += 256u) {
    acc += partials[i];
  }
  shared_sum[lid] = acc;
  tree_sum(lid);
  if (lid == 0u) {
    let total = sqrt(shared_sum[0]);
    norm[0] = total;
    coef[0] = min(1.0, params.max_norm / (total + 1e-6));
  }
}

@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  x[i] *= coef[0];
}
