// Elementwise binary ops with NumPy/PyTorch broadcasting: out[i] = f(a[ia], b[ib]).
// Layout: out is contiguous row-major with shape `shape` (rank <= 8, packed in two vec4s).
// a and b are contiguous in their own shapes; a_strides/b_strides are their strides
// expressed on out's axes, 0 along broadcast axes. With SAME_SHAPE = 1 all three arrays have
// one shape and the index math is skipped. f is picked by OP; the codes are declared once, in
// engine/ops/binary.ts. Workgroup: 256 threads, one element each; 2-D grid (grid1d).
struct Params {
  n: u32,
  rank: u32,
  shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override OP: u32;
override SAME_SHAPE: u32 = 0u;

fn apply(u: f32, v: f32) -> f32 {
  switch OP {
    case 0u: { return u + v; }
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: { return pow(u, v); }
    case 5u: { return max(u, v); }
    case 6u: { return min(u, v); }
    case 7u: { return select(0.0, 1.0, u == v); }
    case 8u: { return select(0.0, 1.0, u > v); }
    default: { return u; }
  }
}

fn dim(arr: array<vec4u, 2>, k: u32) -> u32 {
  return arr[k / 4u][k % 4u];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  if (SAME_SHAPE == 1u) {
    out[i] = apply(a[i], b[i]);
    return;
  }
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var k = i32(params.rank) - 1; k >= 0; k--) {
    let size = params.shape[k / 4][k % 4];
    let coord = rest % size;
    rest = rest / size;
    ia += coord * params.a_strides[k / 4][k % 4];
    ib += coord * params.b_strides[k / 4][k % 4];
  }
  out[i] = apply(a[ia], b[ib]);
}
