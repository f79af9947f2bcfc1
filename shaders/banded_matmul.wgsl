// Product with a banded sparse matrix, for engine/ops/banded.ts (bandedMatmul and its gradient,
// which is the same kernel with the transposed band):
//   y[r, n] = Σ_{k = start[n]}^{end[n] − 1} x[r, k] · A[n, k]
// i.e. y = x · Aᵀ with A [n_out, n_in] nonzero only on the column range [start[n], end[n]) of
// each row n. A mel filterbank is such a matrix (each band spans a few FFT bins), so this does
// the ~2·n_in multiply-adds per row that are nonzero instead of the dense n_in·n_out.
// Bindings (row-major, contiguous):
//   x = [rows, n_in] f32; y = [rows, n_out] f32;
//   band = [n_out, 3] u32: start, end, offset of row n's values in `values`;
//   values = f32, row n's A[n, start .. end) at values[offset ..];
//   params: rows, n_in, n_out.
// Invocation i computes y[i % rows, i / rows]: neighbouring invocations (one SIMD group) share
// the band row n, so their loop bounds are equal and the loop does not diverge across lanes.
// Workgroup: 64 invocations, one output each (no shared memory, no barriers); 2-D grid (grid1d).
// The sum runs over k in increasing order, so results are deterministic.
struct Params {
  rows: u32,
  n_in: u32,
  n_out: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> band: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= params.rows * params.n_out) {
    return;
  }
  let n = i / params.rows;
  let r = i - n * params.rows;
  let start = band[3u * n];
  let end = band[3u * n + 1u];
  let offset = band[3u * n + 2u] - start;
  let row = r * params.n_in;
  var acc = 0.0;
  for (var k = start; k < end; k++) {
    acc = fma(x[row + k], values[offset + k], acc);
  }
  y[r * params.n_out + n] = acc;
}
