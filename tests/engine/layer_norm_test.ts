import * as ag from "../../mod.ts";
import { assertClose, checkOp, randomArray, setup, size } from "../util.ts";

/** y = (x − μ)/√(σ² + eps)·γ + β per row of the last axis (biased σ²), from the definition. */
function layerNormRef(
  dim: number,
  eps: number,
  x: Float64Array,
  w?: Float64Array,
  b?: Float64Array,
) {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let mean = 0, v = 0;
    for (let d = 0; d < dim; d++) mean += x[r * dim + d] / dim;
    for (let d = 0; d < dim; d++) v += (x[r * dim + d] - mean) ** 2 / dim;
    for (let d = 0; d < dim; d++) {
      const n = (x[r * dim + d] - mean) / Math.sqrt(v + eps);
      y[r * dim + d] = w ? n * w[d] + b![d] : n;
    }
  }
  return y;
}

const CASES: { shape: number[]; affine: boolean }[] = [
  { shape: [3, 5, 45], affine: true }, // dim < 64: some threads of each row's workgroup idle
  { shape: [37, 130], affine: true }, // dim > 64: strided partial sums; rows not a multiple of anything
  { shape: [4, 9], affine: false },
  { shape: [2, 3, 1, 7], affine: true },
];

for (const { shape, affine } of CASES) {
  Deno.test(`layerNormLastAxis [${shape}] ${affine ? "affine" : "plain"}: forward vs float64, gradients vs finite differences`, async () => {
    await setup();
    const dim = shape[shape.length - 1];
    const eps = 1e-5;
    // Row scales from 0.1 to 3 so the variance term matters.
    const x = randomArray(size(shape), 1, -3, 3);
    const inputs = [
      { data: x, shape },
      ...(affine
        ? [{ data: randomArray(dim, 2, 0.5, 1.5), shape: [dim] }, {
          data: randomArray(dim, 3),
          shape: [dim],
        }]
        : []),
    ];
    await checkOp(
      "layerNormLastAxis",
      inputs,
      (xs, w, b) => ag.layerNormLastAxis(xs, w ?? null, b ?? null, eps),
      (xs, w, b) => layerNormRef(dim, eps, xs, w, b),
      { gradTol: 2e-3, eps: 1e-4 },
    );
  });
}

Deno.test("layerNormLastAxis agrees with the composed layer norm, values and gradients", async () => {
  await setup();
  const shape = [6, 11, 70];
  await ag.tidy(async () => {
    const make = () => ({
      x: ag.tensor(Float32Array.from(randomArray(size(shape), 4, -2, 2)), shape, {
        requiresGrad: true,
      }),
      w: ag.tensor(Float32Array.from(randomArray(70, 5)), [70], { requiresGrad: true }),
      b: ag.tensor(Float32Array.from(randomArray(70, 6)), [70], { requiresGrad: true }),
    });
    const g = ag.tensor(Float32Array.from(randomArray(size(shape), 7)), shape);
    const fused = make(), composed = make();
    const yf = ag.layerNormLastAxis(fused.x, fused.w, fused.b);
    // The definition, op by op (what engine/nn/functional.ts composed before).
    const c = composed.x.sub(composed.x.mean(-1, true));
    const yc = c.mul(c.square().mean(-1, true).add(1e-5).sqrt().reciprocal()).mul(composed.w).add(
      composed.b,
    );
    assertClose(await yf.toArray(), await yc.toArray(), 1e-5, "forward");
    yf.mul(g).sum().backward();
    yc.mul(g).sum().backward();
    for (const k of ["x", "w", "b"] as const) {
      assertClose(await fused[k].grad!.toArray(), await composed[k].grad!.toArray(), 1e-4, `d${k}`);
    }
  });
});
