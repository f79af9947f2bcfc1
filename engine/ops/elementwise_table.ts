/**
 * The elementwise op table: every unary and every broadcasting binary op, declared once. An
 * entry holds the op's forward and derivative(s) as WGSL expressions, each beside its float64
 * reference, and the input domains its tests draw from. Everything else follows from the table:
 * the WGSL switch cases (engine/ops/elementwise_kernels.ts fills shaders/unary.wgsl and
 * shaders/binary.wgsl), the Tensor methods (engine/methods.ts) and the forward-vs-float64 and
 * gradient-vs-finite-difference tests (tests/engine/elementwise_test.ts). Adding an op is adding
 * an entry.
 *
 * WGSL expressions are f32 and may call the helpers of their shader file (tanh_stable,
 * erf_approx, ...). Unary expressions read `x` (the input), `alpha` (the op's scalar) and, in
 * the derivative, `y` = f(x). Binary expressions read `a` and `b` and, in the derivatives,
 * `y` = f(a, b). The references take the same values as float64 numbers (without `y`).
 * @module
 */
import { erf } from "./float64_math.ts";

/**
 * A test domain: inputs are drawn uniformly from these intervals, endpoints included, e.g.
 * `[[-3, -0.01], [0.01, 3]]` to keep off a kink at 0; when every interval is a single point,
 * from those values equally often, so that comparisons meet ties (`[[-1, -1], [0, 0], [1, 1]]`).
 */
export type Domain = readonly (readonly [number, number])[];

/** A function as a WGSL expression and its float64 reference. */
export interface Expression<F> {
  wgsl: string;
  f64: F;
}

/**
 * The derivative 1 (copy, addScalar, add, sub's first input): backward hands the output's
 * gradient on unchanged, with no kernel.
 */
export const DERIVATIVE_ONE = { wgsl: "1.0", f64: () => 1 } as const;

/** float64 reference of a unary op or its derivative: x and the op's scalar (0 if it has none). */
export type UnaryF64 = (x: number, alpha: number) => number;

/** One unary op: y = f(x) elementwise, dx = dy · f'(x). */
export interface UnaryOpSpec {
  forward: Expression<UnaryF64>;
  derivative: Expression<UnaryF64>;
  /** The op's scalar `alpha`: its name (for errors) and its default when the method omits it. */
  alpha?: { name: string; default?: number };
  /**
   * The Tensor method: the op's name unless given here; `false` when the op is reached through
   * another method (addScalar through `add(number)`).
   */
  method?: string | false;
  /** Test cases: the input domain, and alpha where the op takes one (else its default). */
  tests: readonly { x: Domain; alpha?: number }[];
}

/** The unary ops. */
export const UNARY_OPS = {
  neg: {
    forward: { wgsl: "-x", f64: (x: number): number => -x },
    derivative: { wgsl: "-1.0", f64: (): number => -1 },
    tests: [{ x: [[-3, 3]] }],
  },
  exp: {
    forward: { wgsl: "exp(x)", f64: Math.exp },
    derivative: { wgsl: "y", f64: Math.exp },
    tests: [{ x: [[-4, 4]] }],
  },
  log: {
    forward: { wgsl: "log(x)", f64: Math.log },
    derivative: { wgsl: "1.0 / x", f64: (x: number): number => 1 / x },
    tests: [{ x: [[0.05, 20]] }],
  },
  sqrt: {
    forward: { wgsl: "sqrt(x)", f64: Math.sqrt },
    derivative: { wgsl: "0.5 / y", f64: (x: number): number => 0.5 / Math.sqrt(x) },
    tests: [{ x: [[0.05, 9]] }],
  },
  abs: {
    forward: { wgsl: "abs(x)", f64: Math.abs },
    derivative: { wgsl: "sign(x)", f64: Math.sign },
    tests: [{ x: [[-3, -0.01], [0.01, 3]] }],
  },
  tanh: {
    forward: { wgsl: "tanh_stable(x)", f64: Math.tanh },
    derivative: { wgsl: "1.0 - y * y", f64: (x: number): number => 1 - Math.tanh(x) ** 2 },
    tests: [{ x: [[-20, 20]] }, { x: [[-2, 2]] }],
  },
  sigmoid: {
    forward: { wgsl: "sigmoid(x)", f64: sigmoid },
    derivative: {
      wgsl: "y * (1.0 - y)",
      f64: (x: number): number => sigmoid(x) * (1 - sigmoid(x)),
    },
    tests: [{ x: [[-30, 30]] }],
  },
  relu: {
    forward: { wgsl: "max(x, 0.0)", f64: (x: number): number => Math.max(x, 0) },
    derivative: { wgsl: "select(0.0, 1.0, x > 0.0)", f64: (x: number): number => (x > 0 ? 1 : 0) },
    tests: [{ x: [[-3, -0.01], [0.01, 3]] }],
  },
  leakyRelu: {
    forward: {
      wgsl: "select(alpha * x, x, x > 0.0)",
      f64: (x: number, a: number): number => (x > 0 ? x : a * x),
    },
    derivative: {
      wgsl: "select(alpha, 1.0, x > 0.0)",
      f64: (x: number, a: number): number => (x > 0 ? 1 : a),
    },
    alpha: { name: "slope", default: 0.01 },
    tests: [{ x: [[-3, -0.01], [0.01, 3]] }, { x: [[-3, -0.01], [0.01, 3]], alpha: 0.2 }],
  },
  // The erf form (PyTorch's default), not the tanh approximation; WGSL has no erf, so the
  // kernel uses Abramowitz & Stegun's (|error| < 1.5e-7) and the reference the exact one.
  gelu: {
    forward: { wgsl: "0.5 * x * (1.0 + erf_approx(x * INV_SQRT2))", f64: gelu },
    derivative: {
      wgsl: "0.5 * (1.0 + erf_approx(x * INV_SQRT2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x)",
      f64: (x: number): number =>
        0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) / SQRT_2PI,
    },
    tests: [{ x: [[-6, 6]] }],
  },
  softplus: {
    forward: { wgsl: "max(x, 0.0) + log1p_unit(exp(-abs(x)))", f64: softplus },
    derivative: { wgsl: "sigmoid(x)", f64: sigmoid },
    tests: [{ x: [[-30, 30]] }],
  },
  // x^alpha for any sign of x when alpha is an integer; NaN for negative x otherwise.
  powScalar: {
    forward: { wgsl: "pow_any(x, alpha)", f64: (x: number, p: number): number => x ** p },
    derivative: {
      wgsl: "alpha * pow_any(x, alpha - 1.0)",
      f64: (x: number, p: number): number => p * x ** (p - 1),
    },
    alpha: { name: "exponent" },
    method: false,
    tests: [
      { x: [[-3, 3]], alpha: 2 },
      { x: [[-3, -0.1], [0.1, 3]], alpha: 3 },
      { x: [[0.1, 5]], alpha: 0.5 },
      { x: [[-2, -0.5], [0.5, 2]], alpha: -2 },
    ],
  },
  mulScalar: {
    forward: { wgsl: "x * alpha", f64: (x: number, a: number): number => x * a },
    derivative: { wgsl: "alpha", f64: (_x: number, a: number): number => a },
    alpha: { name: "factor" },
    method: false,
    tests: [{ x: [[-1, 1]], alpha: -3 }],
  },
  addScalar: {
    forward: { wgsl: "x + alpha", f64: (x: number, a: number): number => x + a },
    derivative: DERIVATIVE_ONE,
    alpha: { name: "addend" },
    method: false,
    tests: [{ x: [[-1, 1]], alpha: 2.5 }],
  },
  copy: {
    forward: { wgsl: "x", f64: (x: number): number => x },
    derivative: DERIVATIVE_ONE,
    method: "clone",
    tests: [{ x: [[-1, 1]] }],
  },
  reciprocal: {
    forward: { wgsl: "1.0 / x", f64: (x: number): number => 1 / x },
    derivative: { wgsl: "-y * y", f64: (x: number): number => -1 / (x * x) },
    tests: [{ x: [[-4, -0.2], [0.2, 4]] }],
  },
  sin: {
    forward: { wgsl: "sin(x)", f64: Math.sin },
    derivative: { wgsl: "cos(x)", f64: Math.cos },
    tests: [{ x: [[-7, 7]] }],
  },
  cos: {
    forward: { wgsl: "cos(x)", f64: Math.cos },
    derivative: { wgsl: "-sin(x)", f64: (x: number): number => -Math.sin(x) },
    tests: [{ x: [[-7, 7]] }],
  },
} as const satisfies Record<string, UnaryOpSpec>;

/** Name of a unary op. */
export type UnaryOp = keyof typeof UNARY_OPS;

/** float64 reference of a binary op or a derivative of it. */
export type BinaryF64 = (a: number, b: number) => number;

/** One binary op: y = f(a, b) elementwise with broadcasting. */
export interface BinaryOpSpec {
  forward: Expression<BinaryF64>;
  /**
   * ∂f/∂a and ∂f/∂b. `null` declares an op without gradient: a comparison, piecewise constant,
   * whose output records no graph (like torch.eq).
   */
  derivatives: { a: Expression<BinaryF64>; b: Expression<BinaryF64> } | null;
  /** The method's form for a number operand: a unary op and its scalar (sub(2) = addScalar −2). */
  scalar?: { op: UnaryOp; alpha: (v: number) => number };
  /** `false` when the op has no Tensor method (the comparisons, used inside other ops). */
  method?: false;
  /** Test cases: the domains of a and b. */
  tests: readonly { a: Domain; b: Domain }[];
}

/** The binary ops. */
export const BINARY_OPS = {
  add: {
    forward: { wgsl: "a + b", f64: (a: number, b: number): number => a + b },
    derivatives: { a: DERIVATIVE_ONE, b: DERIVATIVE_ONE },
    scalar: { op: "addScalar", alpha: (v: number): number => v },
    tests: [{ a: [[-2, 2]], b: [[-2, 2]] }],
  },
  sub: {
    forward: { wgsl: "a - b", f64: (a: number, b: number): number => a - b },
    derivatives: { a: DERIVATIVE_ONE, b: { wgsl: "-1.0", f64: (): number => -1 } },
    scalar: { op: "addScalar", alpha: (v: number): number => -v },
    tests: [{ a: [[-2, 2]], b: [[-2, 2]] }],
  },
  mul: {
    forward: { wgsl: "a * b", f64: (a: number, b: number): number => a * b },
    derivatives: {
      a: { wgsl: "b", f64: (_a: number, b: number): number => b },
      b: { wgsl: "a", f64: (a: number): number => a },
    },
    scalar: { op: "mulScalar", alpha: (v: number): number => v },
    tests: [{ a: [[-2, 2]], b: [[-2, 2]] }],
  },
  div: {
    forward: { wgsl: "a / b", f64: (a: number, b: number): number => a / b },
    derivatives: {
      a: { wgsl: "1.0 / b", f64: (_a: number, b: number): number => 1 / b },
      b: { wgsl: "-y / b", f64: (a: number, b: number): number => -a / (b * b) },
    },
    scalar: { op: "mulScalar", alpha: (v: number): number => 1 / v },
    tests: [{ a: [[-2, 2]], b: [[0.5, 2]] }, { a: [[-2, 2]], b: [[-3, -0.5]] }],
  },
  pow: {
    forward: { wgsl: "pow(a, b)", f64: (a: number, b: number): number => a ** b },
    derivatives: {
      a: { wgsl: "b * pow(a, b - 1.0)", f64: (a: number, b: number): number => b * a ** (b - 1) },
      b: { wgsl: "y * log(a)", f64: (a: number, b: number): number => a ** b * Math.log(a) },
    },
    scalar: { op: "powScalar", alpha: (v: number): number => v },
    tests: [{ a: [[0.2, 3]], b: [[-1.5, 2.5]] }],
  },
  // Ties split the gradient evenly, like torch.maximum.
  maximum: {
    forward: { wgsl: "max(a, b)", f64: Math.max },
    derivatives: {
      a: {
        wgsl: "select(select(0.0, 0.5, a == b), 1.0, a > b)",
        f64: (a: number, b: number): number => tieSplit(a, b),
      },
      b: {
        wgsl: "select(select(0.0, 0.5, a == b), 1.0, b > a)",
        f64: (a: number, b: number): number => tieSplit(b, a),
      },
    },
    tests: [{ a: [[-2, 2]], b: [[-2, 2]] }],
  },
  minimum: {
    forward: { wgsl: "min(a, b)", f64: Math.min },
    derivatives: {
      a: {
        wgsl: "select(select(0.0, 0.5, a == b), 1.0, a < b)",
        f64: (a: number, b: number): number => tieSplit(b, a),
      },
      b: {
        wgsl: "select(select(0.0, 0.5, a == b), 1.0, b < a)",
        f64: (a: number, b: number): number => tieSplit(a, b),
      },
    },
    tests: [{ a: [[-2, 2]], b: [[-2, 2]] }],
  },
  eq: {
    forward: {
      wgsl: "select(0.0, 1.0, a == b)",
      f64: (a: number, b: number): number => (a === b ? 1 : 0),
    },
    derivatives: null,
    method: false,
    tests: [{ a: [[-1, -1], [0, 0], [1, 1]], b: [[-1, -1], [0, 0], [1, 1]] }],
  },
  gt: {
    forward: {
      wgsl: "select(0.0, 1.0, a > b)",
      f64: (a: number, b: number): number => (a > b ? 1 : 0),
    },
    derivatives: null,
    method: false,
    tests: [{ a: [[-1, -1], [0, 0], [1, 1]], b: [[-1, -1], [0, 0], [1, 1]] }],
  },
} as const satisfies Record<string, BinaryOpSpec>;

/** Name of a binary op. */
export type BinaryOp = keyof typeof BINARY_OPS;

/** The entry of unary op `op`; throws naming it when the table has none. */
export function unarySpec(op: string): UnaryOpSpec {
  if (!Object.hasOwn(UNARY_OPS, op)) {
    throw new Error(
      `unknown unary op '${op}' (the table has ${Object.keys(UNARY_OPS).join(", ")})`,
    );
  }
  return UNARY_OPS[op as UnaryOp];
}

/** The entry of binary op `op`; throws naming it when the table has none. */
export function binarySpec(op: string): BinaryOpSpec {
  if (!Object.hasOwn(BINARY_OPS, op)) {
    throw new Error(
      `unknown binary op '${op}' (the table has ${Object.keys(BINARY_OPS).join(", ")})`,
    );
  }
  return BINARY_OPS[op as BinaryOp];
}

const SQRT_2PI: number = Math.sqrt(2 * Math.PI);

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** ∂max(u, v)/∂u: 1 where u wins, ½ on a tie, else 0. */
function tieSplit(u: number, v: number): number {
  return u > v ? 1 : u === v ? 0.5 : 0;
}
