// Fused elementwise chains of the VAE's loss: each entry point reads its inputs once and writes
// its outputs once, where the same formula built from unary/binary ops would write and read
// back one full tensor per step. Dispatched by engine/ops/fused.ts, where each op's shape rule
// and gradient sit beside its dispatch.
//
// Layout: every array is a contiguous row-major f32 tensor of n elements, except log_scale in
// the NLL entry points, which broadcasts against x (NumPy rules, rank <= 8):
//   LS_MODE 0: log_scale has x's shape (index i);
//   LS_MODE 1: log_scale has one element (index 0) — the VAE's global log-scale;
//   LS_MODE 2: any other broadcast shape: index Σ_k coord_k(i) · ls_strides[k], where
//              ls_strides are log_scale's strides on x's axes (0 along broadcast axes).
// Gradient entry points write, per element, only the gradients asked for by the NEED_*
// overrides (a gradient nobody needs is not written; its binding gets a 4-byte stand-in).
// Workgroup: 256 threads, one element each; 2-D grid for large arrays (grid1d in runtime.ts).

struct NllParams {
  n: u32,
  rank: u32,
  shape: array<vec4u, 2>,
  ls_strides: array<vec4u, 2>,
}
struct ElemParams {
  n: u32,
}
@group(0) @binding(0) var<uniform> nll: NllParams;
@group(0) @binding(1) var<uniform> elem: ElemParams;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> log_scale: array<f32>;
@group(0) @binding(5) var<storage, read> mu: array<f32>;
@group(0) @binding(6) var<storage, read> logvar: array<f32>;
@group(0) @binding(7) var<storage, read> eps: array<f32>;
@group(0) @binding(8) var<storage, read> dy: array<f32>;
@group(0) @binding(9) var<storage, read_write> out: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;
@group(0) @binding(11) var<storage, read_write> dmean: array<f32>;
@group(0) @binding(12) var<storage, read_write> dlog_scale: array<f32>;
@group(0) @binding(13) var<storage, read_write> dmu: array<f32>;
@group(0) @binding(14) var<storage, read_write> dlogvar: array<f32>;

// NLL family (codes declared in engine/ops/fused.ts): 0 Gaussian, 1 Laplace.
override NLL: u32 = 0u;
override LS_MODE: u32 = 0u;
override NEED_X: u32 = 1u;
override NEED_MEAN: u32 = 1u;
override NEED_LOG_SCALE: u32 = 1u;
override NEED_MU: u32 = 1u;
override NEED_LOGVAR: u32 = 1u;

const HALF_LOG_2PI: f32 = 0.91893853320467274;
const LN2: f32 = 0.69314718055994531;

fn dim(arr: array<vec4u, 2>, k: u32) -> u32 {
  return arr[k / 4u][k % 4u];
}

fn element_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid;
}

// log_scale's value for output element i (see LS_MODE above).
fn log_scale_at(i: u32) -> f32 {
  if (LS_MODE == 0u) {
    return log_scale[i];
  }
  if (LS_MODE == 1u) {
    return log_scale[0];
  }
  var rest = i;
  var j = 0u;
  for (var k = i32(nll.rank) - 1; k >= 0; k--) {
    let size = dim(nll.shape, u32(k));
    j += (rest % size) * dim(nll.ls_strides, u32(k));
    rest = rest / size;
  }
  return log_scale[j];
}

// e^v − 1 − v without the cancellation of the direct form near 0 (Taylor series there; its
// first dropped term is v^8/40320, relative 2e-8 at |v| = 0.25).
fn exp_minus_1_minus_id(v: f32) -> f32 {
  if (abs(v) < 0.25) {
    return v * v * (0.5 + v * (1.0 / 6.0 + v * (1.0 / 24.0 + v * (1.0 / 120.0 + v *
      (1.0 / 720.0 + v * (1.0 / 5040.0))))));
  }
  return exp(v) - 1.0 - v;
}

// e^v − 1 (expm1), same reasoning.
fn exp_minus_1(v: f32) -> f32 {
  if (abs(v) < 0.25) {
    return v * (1.0 + v * (0.5 + v * (1.0 / 6.0 + v * (1.0 / 24.0 + v * (1.0 / 120.0 + v *
      (1.0 / 720.0 + v * (1.0 / 5040.0)))))));
  }
  return exp(v) - 1.0;
}

// out[i] = NLL of x[i] given mean[i] and scale e^{s}, s = log_scale (broadcast):
//   Gaussian: ½((x − mean)·e^{−s})² + s + ½·log 2π
//   Laplace:  |x − mean|·e^{−s} + s + log 2
// Bindings: nll, x, mean, log_scale (read), out (write, x's shape).
@compute @workgroup_size(256)
fn nll_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= nll.n) {
    return;
  }
  let s = log_scale_at(i);
  let d = x[i] - mean[i];
  if (NLL == 0u) {
    let z = d * exp(-s);
    out[i] = 0.5 * z * z + s + HALF_LOG_2PI;
  } else {
    out[i] = abs(d) * exp(-s) + s + LN2;
  }
}

// Gradients of nll_forward given dy = d loss / d out, all in x's shape:
//   Gaussian: dx = dy·z·e^{−s}, dmean = −dx, dlog_scale = dy·(1 − z²), z = (x − mean)·e^{−s}
//   Laplace:  dx = dy·sign(x − mean)·e^{−s} (0 at x = mean, like abs), dmean = −dx,
//             dlog_scale = dy·(1 − |x − mean|·e^{−s})
// dlog_scale is per element: the caller sums it back to log_scale's shape.
// Bindings: nll, x, mean, log_scale, dy (read); dx, dmean, dlog_scale (write, x's shape).
@compute @workgroup_size(256)
fn nll_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= nll.n) {
    return;
  }
  let s = log_scale_at(i);
  let inv_scale = exp(-s);
  let d = x[i] - mean[i];
  let g = dy[i];
  var gx: f32;
  var gs: f32;
  if (NLL == 0u) {
    let z = d * inv_scale;
    gx = g * z * inv_scale;
    gs = g * (1.0 - z * z);
  } else {
    gx = g * sign(d) * inv_scale;
    gs = g * (1.0 - abs(d) * inv_scale);
  }
  if (NEED_X == 1u) {
    dx[i] = gx;
  }
  if (NEED_MEAN == 1u) {
    dmean[i] = -gx;
  }
  if (NEED_LOG_SCALE == 1u) {
    dlog_scale[i] = gs;
  }
}

// out[i] = KL(N(mu, e^{logvar}) ‖ N(0, 1)) = ½(mu² + e^{logvar} − 1 − logvar).
// Bindings: elem, mu, logvar (read), out (write); all one shape.
@compute @workgroup_size(256)
fn kl_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= elem.n) {
    return;
  }
  let m = mu[i];
  out[i] = 0.5 * (m * m + exp_minus_1_minus_id(logvar[i]));
}

// Gradients of kl_forward: dmu = dy·mu, dlogvar = ½·dy·(e^{logvar} − 1).
// Bindings: elem, mu, logvar, dy (read); dmu, dlogvar (write); all one shape.
@compute @workgroup_size(256)
fn kl_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= elem.n) {
    return;
  }
  let g = dy[i];
  if (NEED_MU == 1u) {
    dmu[i] = g * mu[i];
  }
  if (NEED_LOGVAR == 1u) {
    dlogvar[i] = 0.5 * g * exp_minus_1(logvar[i]);
  }
}

// out[i] = mu[i] + e^{½·logvar[i]}·eps[i] (the reparameterisation z = μ + σ·ε).
// Bindings: elem, mu, logvar, eps (read), out (write); all one shape.
@compute @workgroup_size(256)
fn reparameterize_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                          @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= elem.n) {
    return;
  }
  out[i] = mu[i] + exp(0.5 * logvar[i]) * eps[i];
}

// Gradient of reparameterize_forward w.r.t. logvar: dlogvar = ½·dy·eps·e^{½·logvar}
// (dmu = dy needs no kernel; eps is a sample and gets no gradient).
// Bindings: elem, logvar, eps, dy (read), dlogvar (write); all one shape.
@compute @workgroup_size(256)
fn reparameterize_backward(@builtin(workgroup_id) wid: vec3u,
                           @builtin(num_workgroups) nwg: vec3u,
                           @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= elem.n) {
    return;
  }
  dlogvar[i] = 0.5 * dy[i] * eps[i] * exp(0.5 * logvar[i]);
}
