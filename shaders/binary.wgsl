// Elementwise binary ops with NumPy/PyTorch broadcasting: y[i] = f(a[ia], b[ib]).
//   main:     y[i]  = f(a[ia], b[ib])                                  (forward)
//   backward: da[i] = dy[i] * ∂f/∂a, db[i] = dy[i] * ∂f/∂b, given y = f (gradients)
// Layout: y, dy, da and db are contiguous row-major with shape `shape` (rank <= 8, packed in
// two vec4s); da and db are in y's shape, so engine/ops/binary.ts sums them over the broadcast
// axes afterwards. a and b are contiguous in their own shapes; a_strides/b_strides are their
// strides expressed on y's axes, 0 along broadcast axes. With SAME_SHAPE = 1 all arrays have
// one shape and the index math is skipped. backward writes only the gradients NEED_A / NEED_B
// ask for (the other output binding gets a 4-byte stand-in).
// A template: f, ∂f/∂a and ∂f/∂b come from the op table (engine/ops/elementwise_table.ts),
// whose entries engine/ops/elementwise_kernels.ts writes into the switches below at the lines
// marked {{...}}; the OP override picks the case. An OP with no case (there is none: the codes
// come from the table) would give NaN, never a plausible value.
// Workgroup: 256 threads, one element each; 2-D grid (grid1d in runtime.ts).
struct Params {
  n: u32,
  rank: u32,
  shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> a_buf: array<f32>;
@group(0) @binding(1) var<storage, read> b_buf: array<f32>;
@group(0) @binding(2) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> y_buf: array<f32>;
@group(0) @binding(5) var<storage, read> dy_buf: array<f32>;
@group(0) @binding(6) var<storage, read_write> da_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> db_out: array<f32>;

override OP: u32;
override SAME_SHAPE: u32 = 0u;
override NEED_A: u32 = 1u;
override NEED_B: u32 = 1u;

// NaN as a bit pattern in a private variable: WGSL forbids a constant expression whose value is
// not finite (Chrome's Tint rejects `bitcast<f32>(0x7fc00000u)`), and a variable's value is not one.
var<private> NAN_BITS: u32 = 0x7fc00000u;

fn quiet_nan() -> f32 {
  return bitcast<f32>(NAN_BITS);
}

// f(a, b) for the op picked by OP; the cases are generated, one per op of the table
// (OP = the op's position there).
fn forward(a: f32, b: f32) -> f32 {
  switch OP {
    // {{forward cases}}
    default: { return quiet_nan(); }
  }
}

// ∂f/∂a from a, b and y = f(a, b); generated like forward().
fn derivative_a(a: f32, b: f32, y: f32) -> f32 {
  switch OP {
    // {{derivative_a cases}}
    default: { return quiet_nan(); }
  }
}

// ∂f/∂b from a, b and y = f(a, b); generated like forward().
fn derivative_b(a: f32, b: f32, y: f32) -> f32 {
  switch OP {
    // {{derivative_b cases}}
    default: { return quiet_nan(); }
  }
}

// (ia, ib): the elements of a and b that output element i reads.
fn operand_index(i: u32) -> vec2u {
  if (SAME_SHAPE == 1u) {
    return vec2u(i, i);
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
  return vec2u(ia, ib);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  let k = operand_index(i);
  y_out[i] = forward(a_buf[k.x], b_buf[k.y]);
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  let k = operand_index(i);
  let a = a_buf[k.x];
  let b = b_buf[k.y];
  let y = y_buf[i];
  let dy = dy_buf[i];
  if (NEED_A == 1u) {
    da_out[i] = dy * derivative_a(a, b, y);
  }
  if (NEED_B == 1u) {
    db_out[i] = dy * derivative_b(a, b, y);
  }
}
