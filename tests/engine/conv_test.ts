import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { TILE_CONFIGS, tileName } from "../../engine/autotune.ts";
import { UNARY_OPS } from "../../engine/ops/elementwise_table.ts";
import { dispatchesOf } from "./dispatch_log.ts";
import { assertClose, checkOp, randomArray, setup, size } from "../util.ts";

// ---- float64 references, written from the definitions ----

interface Conv1dCase {
  n: number;
  cin: number;
  cout: number;
  len: number;
  k: number;
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

/** y[n, co, o] = b[co] + Σ_{ci in co's group, t} w[co, ci, t] · x[n, ci, o·s − p + t·d]. */
function conv1dRef(c: Required<Conv1dCase>, x: Float64Array, w: Float64Array, b?: Float64Array) {
  const { n, cin, cout, len, k, stride: s, padding: p, dilation: d, groups } = c;
  const cinG = cin / groups, coutG = cout / groups;
  const outLen = Math.floor((len + 2 * p - d * (k - 1) - 1) / s) + 1;
  const y = new Float64Array(n * cout * outLen);
  for (let nb = 0; nb < n; nb++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / coutG);
      for (let o = 0; o < outLen; o++) {
        let acc = b ? b[co] : 0;
        for (let ci = 0; ci < cinG; ci++) {
          for (let t = 0; t < k; t++) {
            const i = o * s - p + t * d;
            if (i < 0 || i >= len) continue;
            acc += w[(co * cinG + ci) * k + t] * x[(nb * cin + g * cinG + ci) * len + i];
          }
        }
        y[(nb * cout + co) * outLen + o] = acc;
      }
    }
  }
  return y;
}

interface ConvT1dCase extends Conv1dCase {
  outputPadding?: number;
}

/** Scatter form: every x[n, ci, i] adds w[ci, co, t] · x to y[n, co, i·s − p + t·d]. */
function convTranspose1dRef(
  c: Required<ConvT1dCase>,
  x: Float64Array,
  w: Float64Array,
  b?: Float64Array,
) {
  const { n, cin, cout, len, k, stride: s, padding: p, dilation: d, groups, outputPadding } = c;
  const cinG = cin / groups, coutG = cout / groups;
  const outLen = (len - 1) * s - 2 * p + d * (k - 1) + outputPadding + 1;
  const y = new Float64Array(n * cout * outLen);
  for (let nb = 0; nb < n; nb++) {
    for (let co = 0; co < cout; co++) {
      for (let o = 0; o < outLen; o++) y[(nb * cout + co) * outLen + o] = b ? b[co] : 0;
    }
    for (let ci = 0; ci < cin; ci++) {
      const g = Math.floor(ci / cinG);
      for (let i = 0; i < len; i++) {
        const xv = x[(nb * cin + ci) * len + i];
        for (let cog = 0; cog < coutG; cog++) {
          for (let t = 0; t < k; t++) {
            const o = i * s - p + t * d;
            if (o < 0 || o >= outLen) continue;
            y[(nb * cout + g * coutG + cog) * outLen + o] += xv * w[(ci * coutG + cog) * k + t];
          }
        }
      }
    }
  }
  return y;
}

interface Conv2dCase {
  n: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
  bias: boolean;
}

function conv2dOut(c: Conv2dCase): [number, number] {
  const o = (axis: 0 | 1, len: number) =>
    Math.floor(
      (len + 2 * c.padding[axis] - c.dilation[axis] * (c.kernel[axis] - 1) - 1) /
        c.stride[axis],
    ) + 1;
  return [o(0, c.h), o(1, c.w)];
}

function conv2dRef(c: Conv2dCase, x: Float64Array, w: Float64Array, b?: Float64Array) {
  const [kh, kw] = c.kernel;
  const cinG = c.cin / c.groups, coutG = c.cout / c.groups;
  const [oh, ow] = conv2dOut(c);
  const y = new Float64Array(c.n * c.cout * oh * ow);
  for (let nb = 0; nb < c.n; nb++) {
    for (let co = 0; co < c.cout; co++) {
      const g = Math.floor(co / coutG);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = b ? b[co] : 0;
          for (let ci = 0; ci < cinG; ci++) {
            for (let i = 0; i < kh; i++) {
              const iy = oy * c.stride[0] - c.padding[0] + i * c.dilation[0];
              if (iy < 0 || iy >= c.h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = ox * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (ix < 0 || ix >= c.w) continue;
                acc += w[((co * cinG + ci) * kh + i) * kw + j] *
                  x[((nb * c.cin + g * cinG + ci) * c.h + iy) * c.w + ix];
              }
            }
          }
          y[((nb * c.cout + co) * oh + oy) * ow + ox] = acc;
        }
      }
    }
  }
  return y;
}

// ---- cases ----

function full1d(c: ConvT1dCase): Required<ConvT1dCase> {
  return { stride: 1, padding: 0, dilation: 1, groups: 1, bias: true, outputPadding: 0, ...c };
}

function label(c: object): string {
  return Object.entries(c).map(([k, v]) => `${k}=${v}`).join(" ");
}

/** f applied to every value of `y`, in float64 (the op table's reference of the activation). */
function activate(y: Float64Array, act?: ag.Activation): Float64Array {
  if (!act) return y;
  const spec = UNARY_OPS[act.op];
  const alpha = act.alpha ?? (spec as { alpha?: { default?: number } }).alpha?.default ?? 0;
  return y.map((v) => spec.forward.f64(v, alpha));
}

async function checkConv1d(
  raw: Conv1dCase,
  seed: number,
  grad = true,
  activation?: ag.Activation,
): Promise<void> {
  const c = full1d(raw);
  const inputs = [
    { data: randomArray(c.n * c.cin * c.len, seed), shape: [c.n, c.cin, c.len] },
    {
      data: randomArray(c.cout * (c.cin / c.groups) * c.k, seed + 1),
      shape: [c.cout, c.cin / c.groups, c.k],
    },
  ];
  if (c.bias) inputs.push({ data: randomArray(c.cout, seed + 2), shape: [c.cout] });
  const opts = {
    stride: c.stride,
    padding: c.padding,
    dilation: c.dilation,
    groups: c.groups,
    activation,
  };
  await checkOp(
    `conv1d ${label(raw)}${activation ? ` ${activation.op}` : ""}`,
    inputs,
    (x, w, b) => ag.conv1d(x, w, b ?? null, opts),
    (x, w, b) => activate(conv1dRef(c, x, w, b), activation),
    { grad },
  );
}

async function checkConvTranspose1d(
  raw: ConvT1dCase,
  seed: number,
  grad = true,
  activation?: ag.Activation,
) {
  const c = full1d(raw);
  const inputs = [
    { data: randomArray(c.n * c.cin * c.len, seed), shape: [c.n, c.cin, c.len] },
    {
      data: randomArray(c.cin * (c.cout / c.groups) * c.k, seed + 1),
      shape: [c.cin, c.cout / c.groups, c.k],
    },
  ];
  if (c.bias) inputs.push({ data: randomArray(c.cout, seed + 2), shape: [c.cout] });
  const opts = {
    stride: c.stride,
    padding: c.padding,
    outputPadding: c.outputPadding,
    dilation: c.dilation,
    groups: c.groups,
    activation,
  };
  await checkOp(
    `convTranspose1d ${label(raw)}${activation ? ` ${activation.op}` : ""}`,
    inputs,
    (x, w, b) => ag.convTranspose1d(x, w, b ?? null, opts),
    (x, w, b) => activate(convTranspose1dRef(c, x, w, b), activation),
    { grad },
  );
}

async function checkConv2d(
  c: Conv2dCase,
  seed: number,
  activation?: ag.Activation,
): Promise<void> {
  const wShape = [c.cout, c.cin / c.groups, ...c.kernel];
  const inputs = [
    { data: randomArray(c.n * c.cin * c.h * c.w, seed), shape: [c.n, c.cin, c.h, c.w] },
    { data: randomArray(size(wShape), seed + 1), shape: wShape },
  ];
  if (c.bias) inputs.push({ data: randomArray(c.cout, seed + 2), shape: [c.cout] });
  const opts = {
    stride: c.stride,
    padding: c.padding,
    dilation: c.dilation,
    groups: c.groups,
    activation,
  };
  await checkOp(
    `conv2d ${label(c)}${activation ? ` ${activation.op}` : ""}`,
    inputs,
    (x, w, b) => ag.conv2d(x, w, b ?? null, opts),
    (x, w, b) => activate(conv2dRef(c, x, w, b), activation),
  );
}

// ---- tests ----

Deno.test("conv1d: kernel sizes, strides, padding, dilation, bias", async () => {
  await setup();
  const base = { n: 2, cin: 3, cout: 5, len: 37 };
  await checkConv1d({ ...base, k: 3 }, 1);
  await checkConv1d({ ...base, k: 4, stride: 2, padding: 1, bias: false }, 11);
  await checkConv1d({ ...base, k: 5, stride: 3, padding: 2, dilation: 2 }, 21);
  await checkConv1d({ ...base, k: 3, stride: 2, padding: 3, dilation: 2, bias: false }, 31);
});

Deno.test("conv1d: groups and depthwise", async () => {
  await setup();
  await checkConv1d(
    { n: 2, cin: 4, cout: 6, len: 23, k: 3, padding: 1, dilation: 2, groups: 2 },
    41,
  );
  await checkConv1d(
    { n: 1, cin: 3, cout: 6, len: 19, k: 4, stride: 2, groups: 3, bias: false },
    51,
  );
});

Deno.test("conv1d: channels across several row tiles", async () => {
  await setup();
  // Cout 67 > 64 rows and 2·35 = 70 > 64 columns: two tiles each way, both ragged.
  await checkConv1d({ n: 2, cin: 6, cout: 67, len: 37, k: 3, padding: 0 }, 61);
});

Deno.test("convTranspose1d: stride, padding, outputPadding, dilation, groups", async () => {
  await setup();
  const base = { n: 2, cin: 3, cout: 5, len: 17 };
  await checkConvTranspose1d({ ...base, k: 4, stride: 2, padding: 1, outputPadding: 1 }, 71);
  await checkConvTranspose1d(
    { ...base, k: 3, stride: 3, dilation: 2, outputPadding: 2, bias: false },
    81,
  );
  // outputPadding ≥ stride is allowed when smaller than dilation.
  await checkConvTranspose1d({ ...base, k: 3, dilation: 2, padding: 1, outputPadding: 1 }, 91);
  await checkConvTranspose1d(
    { n: 2, cin: 4, cout: 6, len: 13, k: 3, stride: 2, padding: 1, groups: 2 },
    101,
  );
});

Deno.test("conv2d: non-square kernels, strides, padding, dilation, groups", async () => {
  await setup();
  await checkConv2d({
    n: 2,
    cin: 3,
    cout: 5,
    h: 9,
    w: 11,
    kernel: [3, 2],
    stride: [2, 1],
    padding: [1, 0],
    dilation: [1, 2],
    groups: 1,
    bias: true,
  }, 111);
  await checkConv2d({
    n: 1,
    cin: 3,
    cout: 6,
    h: 8,
    w: 7,
    kernel: [3, 3],
    stride: [2, 2],
    padding: [1, 1],
    dilation: [1, 1],
    groups: 3,
    bias: false,
  }, 121);
  await checkConv2d({
    n: 2,
    cin: 2,
    cout: 3,
    h: 10,
    w: 9,
    kernel: [2, 3],
    stride: [1, 3],
    padding: [2, 1],
    dilation: [2, 1],
    groups: 1,
    bias: true,
  }, 131);
});

Deno.test("conv2d: scalar options match pairs", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.randn([1, 2, 6, 5], { seed: 3 });
    const w = ag.randn([4, 2, 3, 3], { seed: 4 });
    const a = await ag.conv2d(x, w, null, { stride: 2, padding: 1 }).toArray();
    const b = await ag.conv2d(x, w, null, { stride: [2, 2], padding: [1, 1] }).toArray();
    assert.deepEqual(a, b);
  });
});

Deno.test("conv1d and convTranspose1d at the audio model's shapes (forward)", async () => {
  await setup();
  await checkConv1d({ n: 2, cin: 80, cout: 64, len: 64, k: 5, padding: 2 }, 141, false);
  await checkConv1d({ n: 2, cin: 64, cout: 64, len: 64, k: 4, stride: 2, padding: 1 }, 151, false);
  await checkConvTranspose1d(
    { n: 2, cin: 64, cout: 80, len: 32, k: 4, stride: 2, padding: 1 },
    161,
    false,
  );
});

Deno.test("conv: gradients at the audio model's shape match the reference's", async () => {
  await setup();
  // Finite differences are too slow at this size; compare with the exact adjoint instead:
  // Σ conv1d(x, w) · g = Σ x · convTranspose1d(g, w), so dx must equal the transposed conv.
  const c = full1d({ n: 2, cin: 80, cout: 64, len: 64, k: 5, padding: 2, bias: false });
  const x64 = randomArray(c.n * c.cin * c.len, 171);
  const w64 = randomArray(c.cout * c.cin * c.k, 172);
  const g64 = randomArray(c.n * c.cout * c.len, 173);
  await ag.tidy(async () => {
    const x = ag.tensor(Float32Array.from(x64), [c.n, c.cin, c.len], { requiresGrad: true });
    const w = ag.tensor(Float32Array.from(w64), [c.cout, c.cin, c.k], { requiresGrad: true });
    const y = ag.conv1d(x, w, null, { padding: 2 });
    y.backward(ag.tensor(Float32Array.from(g64), y.shape));
    const t = full1d({ n: c.n, cin: c.cout, cout: c.cin, len: c.len, k: c.k, padding: 2 });
    const dxRef = convTranspose1dRef({ ...t, bias: false }, g64, w64);
    assertClose(await x.grad!.toArray(), dxRef, 1e-4, "conv1d dx at [2, 80, 64]");
    // dw[co, ci, t] = Σ_n,o g[n, co, o] · x[n, ci, o − 2 + t]
    const dwRef = new Float64Array(w64.length);
    for (let co = 0; co < c.cout; co++) {
      for (let ci = 0; ci < c.cin; ci++) {
        for (let t2 = 0; t2 < c.k; t2++) {
          let s = 0;
          for (let nb = 0; nb < c.n; nb++) {
            for (let o = 0; o < c.len; o++) {
              const i = o - 2 + t2;
              if (i < 0 || i >= c.len) continue;
              s += g64[(nb * c.cout + co) * c.len + o] * x64[(nb * c.cin + ci) * c.len + i];
            }
          }
          dwRef[(co * c.cin + ci) * c.k + t2] = s;
        }
      }
    }
    assertClose(await w.grad!.toArray(), dwRef, 1e-4, "conv1d dw at [2, 80, 64]");
    x.grad!.dispose();
    w.grad!.dispose();
  });
});

// The fused epilogue: y = f(conv + b) in the product's kernel, and its gradient (f', the bias
// gradient and the channels-last dy in one kernel, engine/ops/bias_act.ts) against f applied to
// the float64 reference, and against finite differences of that; odd channel counts (scalar
// paths) and multiples of 4 (vec4 paths), with and without bias.
Deno.test("conv1d, convTranspose1d, conv2d with a fused activation: forward and gradients", async () => {
  await setup();
  const gelu: ag.Activation = { op: "gelu" };
  await checkConv1d(
    { n: 2, cin: 6, cout: 7, len: 13, k: 3, stride: 2, padding: 1 },
    311,
    true,
    gelu,
  );
  await checkConv1d({ n: 2, cin: 8, cout: 12, len: 11, k: 4, padding: 2, bias: false }, 321, true, {
    op: "tanh",
  });
  await checkConv1d({ n: 3, cin: 4, cout: 5, len: 9, k: 3, padding: 1 }, 331, true, {
    op: "leakyRelu",
    alpha: 0.2,
  });
  await checkConvTranspose1d(
    { n: 2, cin: 5, cout: 6, len: 9, k: 4, stride: 2, padding: 1 },
    341,
    true,
    gelu,
  );
  await checkConvTranspose1d({ n: 2, cin: 8, cout: 4, len: 7, k: 3, groups: 2 }, 351, true, {
    op: "sigmoid",
  });
  await checkConv2d(
    {
      n: 2,
      cin: 3,
      cout: 5,
      h: 7,
      w: 6,
      kernel: [3, 2],
      stride: [2, 1],
      padding: [1, 0],
      dilation: [1, 1],
      groups: 1,
      bias: true,
    },
    361,
    { op: "softplus" },
  );
});

Deno.test("a fused activation gives the composition's values and gradients", async () => {
  await setup();
  await ag.tidy(async () => {
    const x = ag.randn([3, 8, 21], { seed: 1, requiresGrad: true });
    const w = ag.randn([12, 8, 5], { seed: 2, requiresGrad: true });
    const b = ag.randn([12], { seed: 3, requiresGrad: true });
    const g = ag.randn([3, 12, 21], { seed: 4 });
    const grads = async (y: ag.Tensor) => {
      y.backward(g);
      const out = [await y.toArray()];
      for (const t of [x, w, b]) {
        out.push(await t.grad!.toArray());
        t.grad!.dispose();
        t.grad = null;
      }
      return out;
    };
    const fused = await grads(ag.conv1d(x, w, b, { padding: 2, activation: { op: "gelu" } }));
    const composed = await grads(ag.conv1d(x, w, b, { padding: 2 }).gelu());
    ["y", "dx", "dw", "db"].forEach((what, i) => assertClose(fused[i], composed[i], 1e-5, what));
  });
});

Deno.test("conv + bias + activation is one dispatch forward, bias and f' one backward", async () => {
  await setup();
  const run = (fused: boolean) =>
    dispatchesOf(() =>
      ag.tidy(async () => {
        const x = ag.randn([2, 8, 16], { seed: 1, requiresGrad: true });
        const w = ag.randn([8, 8, 3], { seed: 2, requiresGrad: true });
        const b = ag.randn([8], { seed: 3, requiresGrad: true });
        const y = fused
          ? ag.conv1d(x, w, b, { padding: 1, activation: { op: "gelu" } })
          : ag.conv1d(x, w, b, { padding: 1 }).gelu();
        y.backward(ag.onesLike(y));
        await b.grad!.toArray();
        for (const t of [x, w, b]) t.grad!.dispose();
      })
    );
  const names = async (fused: boolean) =>
    (await run(fused)).dispatches.map((d) => d.kernel).filter((k) =>
      !["fill", "random"].includes(k)
    );
  const fused = await names(true);
  const composed = await names(false);
  assert.ok(!fused.some((k) => k.startsWith("unary") || k.startsWith("reduce")), `${fused}`);
  assert.equal(fused.filter((k) => k === "bias_act_backward").length, 1);
  assert.equal(fused.filter((k) => k === "conv_implicit_gemm").length, 3);
  assert.ok(fused.length < composed.length, `fused ${fused.length} vs composed ${composed.length}`);
});

Deno.test("an activation that needs a scalar, or takes none, is refused by name", () => {
  const x = { ndim: 3, shape: [1, 2, 5] } as unknown as ag.Tensor;
  const w = { ndim: 3, shape: [2, 2, 3] } as unknown as ag.Tensor;
  assert.throws(
    () => ag.conv1d(x, w, null, { activation: { op: "gelu", alpha: 1 } }),
    /activation 'gelu' takes no scalar, got 1/,
  );
  assert.throws(
    () => ag.conv1d(x, w, null, { activation: { op: "powScalar" } }),
    /activation 'powScalar' needs its/,
  );
});

// Every tile configuration (the autotuner may pick any): the three products (forward, input and
// weight gradients) with strides, dilation, groups and ragged edges, the scalar-gathered and the
// vec4 (channels multiple of 4) operand paths, rows and columns crossing tiles, and 2-D.
for (const c of TILE_CONFIGS) {
  Deno.test(`conv tiles ${tileName(c)}: products, edges, groups, 2-D`, async () => {
    await setup();
    await ag.rt().withKernelChoices({ convTile: c }, async () => {
      await checkConv1d({
        n: 2,
        cin: 3,
        cout: 5,
        len: 37,
        k: 5,
        stride: 3,
        padding: 2,
        dilation: 2,
      }, 21);
      await checkConvTranspose1d(
        { n: 2, cin: 4, cout: 6, len: 13, k: 3, stride: 2, padding: 1, groups: 2 },
        101,
      );
      await checkConv1d({ n: 2, cin: 6, cout: 67, len: 37, k: 3, padding: 0 }, 61, false);
      await checkConv1d({ n: 2, cin: 80, cout: 64, len: 64, k: 5, padding: 2 }, 141, false);
      await checkConvTranspose1d(
        { n: 2, cin: 64, cout: 80, len: 32, k: 4, stride: 2, padding: 1 },
        161,
        false,
      );
      await checkConv2d({
        n: 2,
        cin: 3,
        cout: 5,
        h: 9,
        w: 11,
        kernel: [3, 2],
        stride: [2, 1],
        padding: [1, 0],
        dilation: [1, 2],
        groups: 1,
        bias: true,
      }, 111);
    });
  });
}

Deno.test("conv's tile choice is the runtime's: each of the three products runs it", async () => {
  await setup();
  const tile = TILE_CONFIGS.find((c) => tileName(c) === "8x16/8x2")!;
  const { dispatches } = await dispatchesOf(() =>
    ag.rt().withKernelChoices({ convTile: tile }, () =>
      ag.tidy(async () => {
        const x = ag.randn([2, 8, 40], { seed: 1 });
        const w = ag.randn([16, 8, 3], { seed: 2 });
        x.requiresGrad = w.requiresGrad = true;
        ag.conv1d(x, w).sum().backward();
        await w.grad!.toArray();
        x.grad!.dispose();
        w.grad!.dispose();
      }))
  );
  const conv = dispatches.filter((d) => d.kernel === "conv_implicit_gemm");
  assert.deepEqual(conv.map((d) => d.constants.MODE).sort(), [0, 1, 2]);
  for (const { constants: { BM, BN, WG_X } } of conv) {
    assert.deepEqual({ bm: BM, bn: BN, wgX: WG_X }, { bm: tile.bm, bn: tile.bn, wgX: tile.wgX });
  }
});

Deno.test("conv: a negative or fractional padding is an error naming the op and option", () => {
  const x = { ndim: 3, shape: [2, 3, 10] } as unknown as ag.Tensor;
  const w = { ndim: 3, shape: [4, 3, 3] } as unknown as ag.Tensor;
  assert.throws(
    () => ag.conv1d(x, w, null, { padding: -1 }),
    /conv1d: padding must be ≥ 0, got -1/,
  );
  assert.throws(
    () => ag.convTranspose1d(x, w, null, { stride: 2, outputPadding: 0.5 }),
    /convTranspose1d: outputPadding must be ≥ 0, got 0.5/,
  );
  assert.throws(
    () => ag.conv2d(x, w, null, { padding: [1, -2] }),
    /conv2d: padding must be non-negative integers, got 1,-2/,
  );
});

Deno.test("conv: shape errors name the shapes", () => {
  const x = { ndim: 3, shape: [2, 3, 10] } as unknown as ag.Tensor;
  const w = { ndim: 3, shape: [4, 2, 3] } as unknown as ag.Tensor;
  assert.throws(() => ag.conv1d(x, w), /\[2,3,10\].*\[4,2,3\].*group/);
  assert.throws(
    () => ag.convTranspose1d(x, w, null, { stride: 2, outputPadding: 2 }),
    /outputPadding/,
  );
});
