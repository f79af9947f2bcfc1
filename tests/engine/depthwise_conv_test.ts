import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { assertClose, checkOp, randomArray, setup } from "../util.ts";

interface Case {
  n: number;
  c: number;
  len: number;
  k: number;
  stride?: number;
  padding?: number;
  dilation?: number;
  bias?: boolean;
}

/**
 * y[n, c, o] = b[c] + Σ_t w[c, t] · x[n, c, o·s − p + t·d] (zero outside the input), written
 * from the definition; `channelsLast` reads and writes [N, L, C] instead of [N, C, L].
 */
function depthwiseRef(
  cs: Required<Case>,
  channelsLast: boolean,
  x: Float64Array,
  w: Float64Array,
  b?: Float64Array,
): Float64Array {
  const { n, c, len, k, stride: s, padding: p, dilation: d } = cs;
  const outLen = Math.floor((len + 2 * p - d * (k - 1) - 1) / s) + 1;
  const xi = (nb: number, ch: number, i: number) =>
    channelsLast ? (nb * len + i) * c + ch : (nb * c + ch) * len + i;
  const yi = (nb: number, ch: number, o: number) =>
    channelsLast ? (nb * outLen + o) * c + ch : (nb * c + ch) * outLen + o;
  const y = new Float64Array(n * c * outLen);
  for (let nb = 0; nb < n; nb++) {
    for (let ch = 0; ch < c; ch++) {
      for (let o = 0; o < outLen; o++) {
        let acc = b ? b[ch] : 0;
        for (let t = 0; t < k; t++) {
          const i = o * s - p + t * d;
          if (i >= 0 && i < len) acc += w[ch * k + t] * x[xi(nb, ch, i)];
        }
        y[yi(nb, ch, o)] = acc;
      }
    }
  }
  return y;
}

const CASES: Case[] = [
  { n: 2, c: 5, len: 13, k: 7, padding: 3 }, // the ConvNeXt shape: same length
  { n: 1, c: 7, len: 11, k: 3, stride: 2, padding: 1, bias: false },
  { n: 3, c: 3, len: 9, k: 3, dilation: 2, padding: 2 },
  { n: 2, c: 4, len: 6, k: 5, stride: 3, padding: 4, dilation: 1 },
  // batch × out_len = 123 > 64: every lane of the weight gradient's reduction holds a sum.
  { n: 3, c: 6, len: 41, k: 7, padding: 3 },
];

for (const channelsLast of [false, true]) {
  for (const raw of CASES) {
    const cs: Required<Case> = { stride: 1, padding: 0, dilation: 1, bias: true, ...raw };
    Deno.test(
      `depthwiseConv1d ${channelsLast ? "[N, L, C]" : "[N, C, L]"} ${JSON.stringify(raw)}: ` +
        "forward vs float64, gradients vs finite differences",
      async () => {
        await setup();
        const xShape = channelsLast ? [cs.n, cs.len, cs.c] : [cs.n, cs.c, cs.len];
        const inputs = [
          { data: randomArray(cs.n * cs.c * cs.len, 1), shape: xShape },
          { data: randomArray(cs.c * cs.k, 2), shape: [cs.c, 1, cs.k] },
          ...(cs.bias ? [{ data: randomArray(cs.c, 3), shape: [cs.c] }] : []),
        ];
        const opts = {
          stride: cs.stride,
          padding: cs.padding,
          dilation: cs.dilation,
          channelsLast,
        };
        await checkOp(
          "depthwiseConv1d",
          inputs,
          (x, w, b) => ag.depthwiseConv1d(x, w, b ?? null, opts),
          (x, w, b) => depthwiseRef(cs, channelsLast, x, w, b),
        );
      },
    );
  }
}

Deno.test("conv1d with groups = channels routes to depthwiseConv1d and agrees with it", async () => {
  await setup();
  const [n, c, len, k] = [2, 24, 37, 7];
  const x = randomArray(n * c * len, 4), w = randomArray(c * k, 5), b = randomArray(c, 6);
  await ag.tidy(async () => {
    const xs = ag.tensor(Float32Array.from(x), [n, c, len]);
    const ws = ag.tensor(Float32Array.from(w), [c, 1, k]);
    const bs = ag.tensor(Float32Array.from(b), [c]);
    const viaConv = await ag.conv1d(xs, ws, bs, { padding: 3, groups: c }).toArray();
    const ref = depthwiseRef(
      { n, c, len, k, stride: 1, padding: 3, dilation: 1, bias: true },
      false,
      x,
      w,
      b,
    );
    assertClose(viaConv, ref, 1e-5, "conv1d(groups = C)");
    // A fused activation (what Sequential asks of a conv followed by one) applies there too.
    const relu = await ag.conv1d(xs, ws, bs, {
      padding: 3,
      groups: c,
      activation: { op: "relu" },
    }).toArray();
    assertClose(relu, ref.map((v) => Math.max(v, 0)), 1e-5, "conv1d(groups = C) + relu");
    // channels-last is the same numbers, transposed.
    const last = await ag.depthwiseConv1d(xs.transpose(1, 2), ws, bs, {
      padding: 3,
      channelsLast: true,
    }).transpose(1, 2).toArray();
    assertClose(last, ref, 1e-5, "channelsLast");
  });
});

Deno.test("depthwiseConv1d refuses mismatched weights and too-short inputs by name", async () => {
  await setup();
  ag.tidy(() => {
    assert.throws(
      () => ag.depthwiseConv1d(ag.zeros([1, 4, 10]), ag.zeros([3, 1, 3])),
      /w \[3,1,3\] should be \[4, 1, K\]/,
    );
    assert.throws(
      () => ag.depthwiseConv1d(ag.zeros([1, 4, 2]), ag.zeros([4, 1, 5])),
      /input length 2 is too short for kernel 5/,
    );
  });
});
