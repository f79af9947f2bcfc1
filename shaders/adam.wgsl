// One fused Adam / AdamW step for one parameter tensor, in place (PyTorch's update, written
// out per element so param, m and v are each read and written once):
//   g  = grad + l2 · p                     (Adam's coupled weight decay; l2 = 0 for AdamW)
//   p  = p · decay                         (AdamW's decoupled decay: decay = 1 − lr·wd, else 1)
//   m  = β1·m + (1 − β1)·g
//   v  = β2·v + (1 − β2)·g²
// (1 − β1 and 1 − β2 arrive computed in float64 on the CPU: 1 − f32(0.999) in f32 is off by
// 1.3e-5 relative, which would make v drift from PyTorch's.)
//   p  = p − step_size · m / (√v · inv_sqrt_bc2 + eps)
// with step_size = lr / (1 − β1^t) and inv_sqrt_bc2 = 1 / √(1 − β2^t): the step count t lives on
// the CPU and reaches the kernel only through these uniforms.
// Layout: param, grad, m, v are flat f32 arrays of n elements (any contiguous tensor), read as
// vec4s: every buffer comes from engine/buffer_pool.ts, whose sizes are multiples of 16 bytes, so
// the last, partial vec4 is in bounds; its lanes ≥ n are written back unchanged.
// Workgroup 256, one vec4 per invocation (on lavapipe a vec4 load costs about what a scalar one
// does: 2.8× → see engine/optim/adam.ts); 2-D grid for large tensors (grid1d in runtime.ts).
// Dispatched by engine/optim/adam.ts.
struct Params {
  n: u32,
  step_size: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  l2: f32,
  decay: f32,
  inv_sqrt_bc2: f32,
}
@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  let e = i * 4u;
  if (e >= params.n) {
    return;
  }
  let live = vec4<u32>(e, e + 1u, e + 2u, e + 3u) < vec4<u32>(params.n);
  let p = param[i];
  let m0 = m[i];
  let v0 = v[i];
  let g = grad[i] + params.l2 * p;
  let mi = params.beta1 * m0 + params.one_minus_beta1 * g;
  let vi = params.beta2 * v0 + params.one_minus_beta2 * g * g;
  m[i] = select(m0, mi, live);
  v[i] = select(v0, vi, live);
  let denom = sqrt(vi) * params.inv_sqrt_bc2 + params.eps;
  param[i] = select(p, p * params.decay - params.step_size * mi / denom, live);
}
