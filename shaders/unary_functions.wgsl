// The unary ops of the op table as two WGSL functions, for every kernel that applies one:
//   forward(x, alpha)       = f(x)
//   derivative(x, y, alpha) = f'(x), given y = f(x)
// A template: f and f' come from the op table (engine/ops/elementwise_table.ts), whose entries
// engine/ops/elementwise_kernels.ts writes into the two switches at the lines marked {{...}};
// the OP override picks the case, `alpha` is the op's scalar (leakyRelu slope, exponent,
// factor, addend). An OP with no case (there is none: the codes come from the table) gives NaN,
// never a plausible value. Prepended to shaders/unary.wgsl (the elementwise kernels), to
// shaders/conv.wgsl and shaders/matmul.wgsl (a fused activation in their epilogue) and to
// shaders/bias_act.wgsl (its gradient) by the ops that dispatch them.

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

// NaN as a bit pattern in a private variable: WGSL forbids a constant expression whose value is
// not finite (Chrome's Tint rejects `bitcast<f32>(0x7fc00000u)`), and a variable's value is not one.
var<private> NAN_BITS: u32 = 0x7fc00000u;

fn quiet_nan() -> f32 {
  return bitcast<f32>(NAN_BITS);
}

fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// x^p for any sign of x when p is an integer; NaN for negative x otherwise (like torch.pow).
fn pow_any(v: f32, p: f32) -> f32 {
  if (v >= 0.0) {
    return pow(v, p);
  }
  if (fract(p) != 0.0) {
    return quiet_nan();
  }
  let m = pow(-v, p);
  return select(m, -m, (i32(p) & 1) == 1);
}

// f(x) for the op picked by OP. The cases are generated, one per op of the table in
// engine/ops/elementwise_table.ts (OP = the op's position there), by elementwise_kernels.ts.
fn forward(x: f32, alpha: f32) -> f32 {
  switch OP {
    // {{forward cases}}
    default: { return quiet_nan(); }
  }
}

// f'(x), from the input x, the output y = f(x) and alpha; generated like forward().
fn derivative(x: f32, y: f32, alpha: f32) -> f32 {
  switch OP {
    // {{derivative cases}}
    default: { return quiet_nan(); }
  }
}
