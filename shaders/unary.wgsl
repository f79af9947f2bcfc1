// Elementwise unary ops on contiguous f32 arrays of n elements.
//   main:     y[i]  = f(x[i])                        (forward)
//   backward: dx[i] = dy[i] * f'(x[i]), given y = f(x) (gradient)
// f and f' are forward() and derivative() of shaders/unary_functions.wgsl (the op table's
// cases), which engine/ops/elementwise_kernels.ts prepends; the OP override picks the op, `alpha`
// is its scalar.
// Workgroup: 256 threads, one element each; 2-D grid for large arrays (grid1d in runtime.ts).
struct Params {
  n: u32,
  alpha: f32,
}
@group(0) @binding(0) var<storage, read> x_buf: array<f32>;
@group(0) @binding(1) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> y_buf: array<f32>;
@group(0) @binding(4) var<storage, read> dy_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx_out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  y_out[i] = forward(x_buf[i], params.alpha);
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  dx_out[i] = dy_buf[i] * derivative(x_buf[i], y_buf[i], params.alpha);
}
