// Layer normalisation over the last axis, fused, and its input gradient:
//   forward:  y[r, d] = (x[r, d] − μ_r) · ρ_r · γ[d] + β[d],  μ_r = mean_d x[r, d],
//             ρ_r = 1 / √(mean_d (x[r, d] − μ_r)² + eps)    (biased variance, like PyTorch)
//             and μ_r, ρ_r saved in `stats` [rows, 2] for the backward pass;
//   backward: with x̂ = (x − μ)·ρ and h = dy · γ:
//             dx[r, d] = ρ_r · (h[r, d] − mean_d h[r, ·] − x̂[r, d] · mean_d (h · x̂)[r, ·])
//             and dyx[r, d] = dy[r, d] · x̂[r, d], which engine/ops/layer_norm.ts sums over rows
//             into dγ (dβ is the row sum of dy).
// x, y, dy, dx, dyx: [rows, dim] row-major; γ, β: [dim] (HAS_AFFINE = 0: none, read as 1 and 0;
// NEED_WEIGHT_GRAD = 0: dyx is not written).
// One workgroup of 64 threads per row: strided partial sums, then tree reductions in workgroup
// memory; rows index the 2-D grid (grid1d). Dispatched by engine/ops/layer_norm.ts.
struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dyx: array<f32>;
@group(0) @binding(8) var<storage, read> saved: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

override HAS_AFFINE: u32 = 1u;
// backward only: write dyx (γ's gradient is wanted).
override NEED_WEIGHT_GRAD: u32 = 1u;

var<workgroup> part_a: array<f32, 64>;
var<workgroup> part_b: array<f32, 64>;

// Sums part_a and part_b over the workgroup; every thread gets both totals.
fn reduce_pair(lid: u32) -> vec2f {
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) {
      part_a[lid] += part_a[lid + s];
      part_b[lid] += part_b[lid + s];
    }
    workgroupBarrier();
  }
  let totals = vec2f(part_a[0], part_b[0]);
  workgroupBarrier();
  return totals;
}

fn weight(d: u32) -> f32 {
  if (HAS_AFFINE == 1u) {
    return gamma[d];
  }
  return 1.0;
}

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  let valid = row < params.rows;
  let base = row * params.dim;
  // Mean first, then the centred second moment (two passes: no cancellation).
  var s = 0.0;
  if (valid) {
    for (var d = lid; d < params.dim; d += 64u) {
      s += x[base + d];
    }
  }
  part_a[lid] = s;
  part_b[lid] = 0.0;
  let mean = reduce_pair(lid).x / f32(params.dim);
  var q = 0.0;
  if (valid) {
    for (var d = lid; d < params.dim; d += 64u) {
      let c = x[base + d] - mean;
      q += c * c;
    }
  }
  part_a[lid] = q;
  part_b[lid] = 0.0;
  let rstd = 1.0 / sqrt(reduce_pair(lid).x / f32(params.dim) + params.eps);
  if (!valid) {
    return;
  }
  for (var d = lid; d < params.dim; d += 64u) {
    var v = (x[base + d] - mean) * rstd;
    if (HAS_AFFINE == 1u) {
      v = v * gamma[d] + beta[d];
    }
    y[base + d] = v;
  }
  if (lid == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  let valid = row < params.rows;
  let base = row * params.dim;
  var mean = 0.0;
  var rstd = 0.0;
  if (valid) {
    mean = saved[2u * row];
    rstd = saved[2u * row + 1u];
  }
  var sh = 0.0;
  var shx = 0.0;
  if (valid) {
    for (var d = lid; d < params.dim; d += 64u) {
      let xh = (x[base + d] - mean) * rstd;
      let h = dy[base + d] * weight(d);
      sh += h;
      shx += h * xh;
    }
  }
  part_a[lid] = sh;
  part_b[lid] = shx;
  let totals = reduce_pair(lid) / f32(params.dim);
  if (!valid) {
    return;
  }
  for (var d = lid; d < params.dim; d += 64u) {
    let xh = (x[base + d] - mean) * rstd;
    let h = dy[base + d] * weight(d);
    dx[base + d] = rstd * (h - totals.x - xh * totals.y);
    if (NEED_WEIGHT_GRAD == 1u) {
      dyx[base + d] = dy[base + d] * xh;
    }
  }
}
