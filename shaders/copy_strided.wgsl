// Strided copy, the one kernel behind the movement ops (permute, slice, flip, expand, concat,
// pad, as_strided framing):
//   for every index (i_0..i_{rank-1}) of `shape`:
//     dst[dst_offset + sum_k i_k * dst_strides[k]] = src[src_offset + sum_k i_k * src_strides[k]]
// Strides are signed (negative for flips) and may be 0 (broadcast). rank <= 8, packed in vec4s.
// Workgroup: 256 threads, one element each; 2-D grid (grid1d in runtime.ts).
// Dispatched by engine/ops/movement.ts.
struct Params {
  n: u32,
  rank: u32,
  src_offset: i32,
  dst_offset: i32,
  shape: array<vec4u, 2>,
  src_strides: array<vec4i, 2>,
  dst_strides: array<vec4i, 2>,
}
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  var rest = i;
  var s = params.src_offset;
  var d = params.dst_offset;
  for (var k = i32(params.rank) - 1; k >= 0; k--) {
    let size = params.shape[k / 4][k % 4];
    let coord = i32(rest % size);
    rest = rest / size;
    s += coord * params.src_strides[k / 4][k % 4];
    d += coord * params.dst_strides[k / 4][k % 4];
  }
  dst[d] = src[s];
}
