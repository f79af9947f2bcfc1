import assert from "node:assert/strict";
import {
  float16ToFloat32,
  float32ToFloat16,
  fromHalfBits,
  toHalfBits,
} from "../../engine/float16.ts";
import { rng } from "../util.ts";

/** Every finite half, in order: a float64 reference of the format (2^-24 … 65504). */
function allFiniteHalves(): number[] {
  const out: number[] = [];
  for (let h = 0; h < 0x7c00; h++) out.push(fromHalfBits(h));
  return out;
}

Deno.test("binary16 round trip: every finite half pattern survives f32 and back", () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = fromHalfBits(h);
    if (Number.isNaN(v)) {
      assert.ok(Number.isNaN(fromHalfBits(toHalfBits(v))), `NaN ${h.toString(16)}`);
      continue;
    }
    assert.equal(toHalfBits(v), h, `pattern ${h.toString(16)} (${v})`);
  }
});

Deno.test("f32 → binary16 rounds to the nearest half, ties to even, against a sorted table", () => {
  const halves = allFiniteHalves(); // ascending, non-negative
  const r = rng(7);
  const nearest = (v: number): number => {
    const a = Math.abs(v);
    let lo = 0, hi = halves.length - 1;
    if (a >= 65520) return Infinity; // the rounding boundary above 65504
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (halves[mid] <= a) lo = mid;
      else hi = mid;
    }
    const [dl, dh] = [a - halves[lo], halves[hi] - a];
    const pick = dl < dh ? lo : dh < dl ? hi : (lo % 2 === 0 ? lo : hi);
    return Math.sign(v) * halves[pick] || (v < 0 ? -0 : 0);
  };
  const cases: number[] = [0.1, -0.1, 1 / 3, 65504, 65519, 65520, 1e-8, 2 ** -25, 3 * 2 ** -26];
  for (let i = 0; i < 20000; i++) {
    const scale = 2 ** Math.floor(r() * 44 - 28);
    cases.push((r() - 0.5) * 2 * scale);
  }
  // Exact ties between neighbours: halfway points must go to the even pattern.
  for (let h = 1; h < 0x7bff; h += 97) cases.push((fromHalfBits(h) + fromHalfBits(h + 1)) / 2);
  const got = float16ToFloat32(float32ToFloat16(Float32Array.from(cases)));
  cases.forEach((v, i) => {
    const want = nearest(Math.fround(v));
    assert.ok(Object.is(got[i], want) || got[i] === want, `${v}: got ${got[i]}, want ${want}`);
  });
});

Deno.test("binary16 specials: ±0, ±∞, NaN, overflow", () => {
  assert.equal(toHalfBits(0), 0);
  assert.equal(toHalfBits(-0), 0x8000);
  assert.equal(toHalfBits(Infinity), 0x7c00);
  assert.equal(toHalfBits(-Infinity), 0xfc00);
  assert.equal(toHalfBits(1e6), 0x7c00);
  assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
  assert.equal(fromHalfBits(0x3c00), 1);
  assert.equal(fromHalfBits(0x0001), 2 ** -24);
});
