/**
 * The float64 special functions behind the op table's references (engine/ops/float64_math.ts):
 * erf and erfc against tabulated values (as given by C99 libm erf/erfc through Python), across the
 * switch from the series to the continued fraction at 1.5.
 */
import assert from "node:assert/strict";
import { erf, erfc } from "../../engine/ops/float64_math.ts";

Deno.test("erf matches tabulated values to 1e-14", () => {
  const table: [number, number][] = [
    [0, 0],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [1.4999, 0.9660932516622953],
    [1.5, 0.9661051464753108],
    [2, 0.9953222650189527],
    [2.9, 0.9999589021219005],
    [3.5, 0.9999992569016276],
    [-1.5, -0.9661051464753108],
    [-0.5, -0.5204998778130465],
  ];
  for (const [x, want] of table) {
    assert.ok(Math.abs(erf(x) - want) < 1e-14, `erf(${x}) = ${erf(x)}, want ${want}`);
  }
});

Deno.test("erfc keeps its relative accuracy far in the tail", () => {
  const table: [number, number][] = [
    [0.5, 0.4795001221869535],
    [2, 0.004677734981047265],
    [4, 1.541725790028002e-8],
    [6, 2.1519736712498916e-17],
  ];
  for (const [x, want] of table) {
    assert.ok(Math.abs(erfc(x) / want - 1) < 1e-12, `erfc(${x}) = ${erfc(x)}, want ${want}`);
  }
});
