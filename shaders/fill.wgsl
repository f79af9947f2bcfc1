// Fills out[0..n) with one f32 value (zeros, ones, full, NaN poisoning in tests).
// Layout: out is a flat f32 array. Workgroup 256 threads, one element each; the grid may be 2-D
// (see grid1d in engine/runtime.ts) so that more than 65,535 workgroups fit.
// Dispatched by engine/ops/fill_kernel.ts.
struct Params {
  n: u32,
  value: f32,
}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  out[i] = params.value;
}
