// Reduction over the middle axis of x viewed as [outer, r, inner] (row-major, contiguous):
//   out[o * inner + j] = reduce_{k < r} x[(o * r + k) * inner + j]
// OP picks sum (0), max (1) or min (2); codes declared in engine/ops/reduce.ts.
// Two entry points, chosen by engine/ops/reduce.ts from the shape:
//   per_thread: one invocation per output, a serial loop over r (short rows, many outputs).
//   per_workgroup: 256 invocations per output, strided partial results then a tree reduction
//                  in workgroup memory (long rows). Output index = wid.y * nwg.x + wid.x.
struct Params {
  outer: u32,
  r: u32,
  inner: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

override OP: u32;

var<workgroup> partial: array<f32, 256>;

// ±inf as bit patterns in private variables: WGSL forbids a constant expression whose value is
// not finite (Chrome's Tint rejects `bitcast<f32>(0xff800000u)`), and a variable's value is not one.
var<private> NEG_INF_BITS: u32 = 0xff800000u;
var<private> POS_INF_BITS: u32 = 0x7f800000u;

fn identity() -> f32 {
  switch OP {
    case 1u: { return bitcast<f32>(NEG_INF_BITS); } // -inf
    case 2u: { return bitcast<f32>(POS_INF_BITS); } // +inf
    default: { return 0.0; }
  }
}

fn combine(acc: f32, v: f32) -> f32 {
  switch OP {
    case 1u: { return max(acc, v); }
    case 2u: { return min(acc, v); }
    default: { return acc + v; }
  }
}

@compute @workgroup_size(256)
fn per_thread(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (idx >= params.outer * params.inner) {
    return;
  }
  let o = idx / params.inner;
  let j = idx % params.inner;
  var acc = identity();
  var p = o * params.r * params.inner + j;
  for (var k = 0u; k < params.r; k++) {
    acc = combine(acc, x[p]);
    p += params.inner;
  }
  out[idx] = acc;
}

@compute @workgroup_size(256)
fn per_workgroup(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let idx = wid.y * nwg.x + wid.x;
  let valid = idx < params.outer * params.inner;
  var acc = identity();
  if (valid) {
    let o = idx / params.inner;
    let j = idx % params.inner;
    let base = o * params.r * params.inner + j;
    for (var k = lid; k < params.r; k += 256u) {
      acc = combine(acc, x[base + k * params.inner]);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) {
      partial[lid] = combine(partial[lid], partial[lid + s]);
    }
    workgroupBarrier();
  }
  if (valid && lid == 0u) {
    out[idx] = partial[0];
  }
}
