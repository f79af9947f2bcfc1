/**
 * float64 special functions that JavaScript's `Math` lacks, for the op table's test references
 * (engine/ops/elementwise_table.ts). Plain series and continued fractions, accurate to ~1e-15:
 * far tighter than any f32 kernel they check.
 * @module
 */

/**
 * The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, to ~1e-15: the Maclaurin series for |x| < 1.5,
 * 1 − erfc(|x|) by its continued fraction beyond.
 *
 * @example
 * ```ts
 * import { erf } from "./float64_math.ts";
 * erf(1); // 0.8427007929497149
 * ```
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 1.5) {
    // erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= -a * a / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - erfc(a));
}

/**
 * The complementary error function erfc(x) = 1 − erf(x). For x >= 1.5 by its continued fraction
 * e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), which keeps its relative
 * accuracy where 1 − erf(x) would cancel (erfc(4) ≈ 1.5e-8).
 */
export function erfc(x: number): number {
  if (x < 1.5) return 1 - erf(x);
  const a = x;
  let f = 0;
  for (let k = 200; k >= 1; k--) f = (k / 2) / (a + f);
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
}
