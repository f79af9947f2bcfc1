// Elementwise unary ops on contiguous f32 arrays.
//   main:     out[i] = f(x[i])                       (forward)
//   backward: dx[i]  = dy[i] * f'(x[i]) given y = f(x) (gradient)
// f is picked by the OP override; the codes are declared once, in engine/ops/unary.ts, with
// each op's name. `alpha` is the op's scalar (leakyRelu slope, power, scale, added constant).
// Workgroup: 256 threads, one element each; 2-D grid for large arrays (grid1d in runtime.ts).
struct Params {
  n: u32,
  alpha: f32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

override OP: u32;

const INV_SQRT2: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): WGSL has no erf.
fn erf_approx(v: f32) -> f32 {
  let s = sign(v);
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 +
    t * 1.061405429))));
  return s * (1.0 - poly * exp(-a * a));
}

// tanh through exp(-2|v|), which never overflows (the builtin may give NaN for large |v|).
// Near 0, 1 - e cancels (tanh(1e-8) would be 0), so small |v| uses the Taylor series.
fn tanh_stable(v: f32) -> f32 {
  if (abs(v) < 0.05) {
    let v2 = v * v;
    return v * (1.0 - v2 * (0.33333333 - v2 * 0.13333333));
  }
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

// log(1 + e) for 0 <= e <= 1 that keeps tiny e (log(1.0 + e) is 0 once e < 6e-8).
fn log1p_unit(e: f32) -> f32 {
  if (e < 0.05) {
    return e * (1.0 - e * (0.5 - e * (0.33333333 - e * (0.25 - e * (0.2 - e * 0.16666667)))));
  }
  return log(1.0 + e);
}

fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// NaN as a bit pattern in a private variable: WGSL forbids a constant expression whose value is
// not finite (Chrome's Tint rejects `bitcast<f32>(0x7fc00000u)`), and a variable's value is not one.
var<private> NAN_BITS: u32 = 0x7fc00000u;

// x^p for any sign of x when p is an integer; NaN for negative x otherwise (like torch.pow).
fn pow_any(v: f32, p: f32) -> f32 {
  if (v >= 0.0) {
    return pow(v, p);
  }
  if (fract(p) != 0.0) {
    return bitcast<f32>(NAN_BITS);
  }
  let m = pow(-v, p);
  return select(m, -m, (i32(p) & 1) == 1);
}

fn forward(v: f32, alpha: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: { return abs(v); }
    case 5u: { return tanh_stable(v); }
    case 6u: { return sigmoid(v); }
    case 7u: { return max(v, 0.0); }
    case 8u: { return select(alpha * v, v, v > 0.0); }
    case 9u: { return 0.5 * v * (1.0 + erf_approx(v * INV_SQRT2)); }
    case 10u: { return max(v, 0.0) + log1p_unit(exp(-abs(v))); }
    case 11u: { return pow_any(v, alpha); }
    case 12u: { return v * alpha; }
    case 13u: { return v + alpha; }
    case 14u: { return v; }
    case 15u: { return 1.0 / v; }
    default: { return v; }
  }
}

// d f / d x, from the input v and the output r = f(v).
fn derivative(v: f32, r: f32, alpha: f32) -> f32 {
  switch OP {
    case 0u: { return -1.0; }
    case 1u: { return r; }
    case 2u: { return 1.0 / v; }
    case 3u: { return 0.5 / r; }
    case 4u: { return sign(v); }
    case 5u: { return 1.0 - r * r; }
    case 6u: { return r * (1.0 - r); }
    case 7u: { return select(0.0, 1.0, v > 0.0); }
    case 8u: { return select(alpha, 1.0, v > 0.0); }
    case 9u: {
      return 0.5 * (1.0 + erf_approx(v * INV_SQRT2)) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
    }
    case 10u: { return sigmoid(v); }
    case 11u: { return alpha * pow_any(v, alpha - 1.0); }
    case 12u: { return alpha; }
    case 13u: { return 1.0; }
    case 14u: { return 1.0; }
    case 15u: { return -r * r; }
    default: { return 1.0; }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  out[i] = forward(x[i], params.alpha);
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  dx[i] = dy[i] * derivative(x[i], y[i], params.alpha);
}
