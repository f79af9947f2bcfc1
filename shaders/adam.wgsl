// One fused Adam / AdamW step for one parameter tensor, in place (PyTorch's update, written
// out per element so param, m and v are each read and written once):
//   g  = grad + l2 · p                     (Adam's coupled weight decay; l2 = 0 for AdamW)
//   p  = p · decay                         (AdamW's decoupled decay: decay = 1 − lr·wd, else 1)
//   m  = β1·m + (1 − β1)·g
//   v  = β2·v + (1 − β2)·g²
// (1 − β1 and 1 − β2 arrive computed in float64 on the CPU: 1 − f32(0.999) in f32 is off by
// 1.3e-5 relative, which would make v drift from PyTorch's.)
//   p  = p − step_size · m / (√v · inv_sqrt_bc2 + eps)
// with step_size = lr / (1 − β1^t) and inv_sqrt_bc2 = 1 / √(1 − β2^t).
// GATED = 0: the step count t lives on the CPU and reaches the kernel only through those two
// uniforms. GATED = 1 (a step applied only if gate[0] ≠ 0, which the GPU decides, e.g. "the loss
// and gradient norm are finite", so the CPU learns it only later): nothing is written when
// gate[0] = 0, and t is this parameter's count of applied steps, kept on the GPU in
// counts[2·slot + parity] (read) → counts[2·slot + 1 − parity] (written by one invocation: the
// two slots alternate, so no invocation reads a count another has already bumped); the bias
// corrections are then computed here as 1 − β^t = −expm1(t · ln β) with ln β from the CPU in
// float64 and expm1 by its series near 0, which keeps ~1e-7 relative accuracy where
// 1 − pow(β, t) would cancel (t small, β2 = 0.999).
// Layout: param, grad, m, v are flat f32 arrays of n elements (any contiguous tensor), read as
// vec4s: every buffer comes from engine/buffer_pool.ts, whose sizes are multiples of 16 bytes, so
// the last, partial vec4 is in bounds; its lanes ≥ n are written back unchanged. gate: 1 f32;
// counts: u32 pairs, one per parameter of the optimizer.
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
  lr: f32,
  ln_beta1: f32,
  ln_beta2: f32,
  slot: u32,
  parity: u32,
}
@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> gate: array<f32>;
@group(0) @binding(6) var<storage, read_write> counts: array<u32>;

override GATED: u32 = 0u;

/** 1 − e^x for x ≤ 0, accurate near 0 (where 1 − exp(x) cancels). */
fn one_minus_exp(x: f32) -> f32 {
  if (x > -0.5) {
    // −expm1(x) = −(x + x²/2! + … + x¹⁰/10!), Horner form; the first omitted term is < 2e-9·|x|.
    var s = 1.0 + x / 10.0;
    s = 1.0 + x / 9.0 * s;
    s = 1.0 + x / 8.0 * s;
    s = 1.0 + x / 7.0 * s;
    s = 1.0 + x / 6.0 * s;
    s = 1.0 + x / 5.0 * s;
    s = 1.0 + x / 4.0 * s;
    s = 1.0 + x / 3.0 * s;
    s = 1.0 + x / 2.0 * s;
    return -x * s;
  }
  return 1.0 - exp(x);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  var step_size = params.step_size;
  var inv_sqrt_bc2 = params.inv_sqrt_bc2;
  if (GATED == 1u) {
    let on = gate[0] != 0.0;
    let before = counts[2u * params.slot + params.parity];
    if (i == 0u) {
      counts[2u * params.slot + 1u - params.parity] = before + select(0u, 1u, on);
    }
    if (!on) {
      return;
    }
    let t = f32(before + 1u);
    step_size = params.lr / one_minus_exp(t * params.ln_beta1);
    inv_sqrt_bc2 = inverseSqrt(one_minus_exp(t * params.ln_beta2));
  }
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
  let denom = sqrt(vi) * inv_sqrt_bc2 + params.eps;
  param[i] = select(p, p * params.decay - step_size * mi / denom, live);
}
