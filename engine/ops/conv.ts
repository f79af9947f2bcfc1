/**
 * Convolutions with PyTorch semantics — `conv1d`, `conv2d`, `convTranspose1d` — and their
 * gradients, all as implicit GEMMs on the GPU (shaders/conv.wgsl): a tiled matrix product whose
 * operand loads compute the im2col index on the fly, so nothing is unfolded in memory.
 *
 * Three products cover everything: the forward convolution, its input gradient (a gather over
 * the output positions each input feeds, which is also the transposed convolution's forward) and
 * its weight gradient. A 1-D convolution is a 2-D one with height 1. The transposed convolution
 * reuses the same three products with the roles of forward and input gradient swapped.
 * @module
 */
import source from "../../shaders/conv.wgsl" with { type: "text" };
import {
  sizeBucket,
  TILE_CONFIGS,
  type TileConfig,
  type Tunable,
  tunedChoice,
} from "../autotune.ts";
import { Kernel } from "../kernel.ts";
import { rt } from "../runtime.ts";
import { UNARY_FUNCTIONS } from "./elementwise_kernels.ts";
import {
  type Activation,
  type ActivationCode,
  activationCode,
  biasActivationBackward,
} from "./bias_act.ts";
import { isGradEnabled, record, type Shape, stridesOf, Tensor } from "../tensor.ts";
import { zeros } from "./creation.ts";
import { stridedCopy } from "./movement.ts";
import { depthwiseConv1d } from "./depthwise_conv.ts";
import { unary } from "./unary.ts";

const kernel = new Kernel("conv_implicit_gemm", `${UNARY_FUNCTIONS}\n${source}`);
const MAX_GROUPS_X = 65535;

/**
 * Untuned default tile config, the fastest of TILE_CONFIGS measured on lavapipe (Mesa 22.3, 2
 * cores, 8-wide SIMD): 16 × 16 blocks (16 accumulator quads in registers) in 8 × 2 workgroups.
 * WG_Y shrinks below `wgY` for layers with few rows.
 */
export const DEFAULT_CONV_CONFIG: TileConfig = { bm: 16, bn: 16, wgX: 8, wgY: 2 };

/** The products of shaders/conv.wgsl (its `MODE` override). */
const MODE = { forward: 0, inputGrad: 1, weightGrad: 2 } as const;

/** Everything the kernel needs to know about one convolution, in its forward orientation. */
interface ConvGeometry {
  batch: number;
  cin: number;
  cout: number;
  groups: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilH: number;
  dilW: number;
}

/** The geometry of a 1-D convolution (length in → length out), run as a 2-D one with H = 1. */
function lineGeometry(
  g: { batch: number; cin: number; cout: number; groups: number; inLen: number; outLen: number },
  k: number,
  stride: number,
  padding: number,
  dilation: number,
): ConvGeometry {
  return {
    batch: g.batch,
    cin: g.cin,
    cout: g.cout,
    groups: g.groups,
    inH: 1,
    inW: g.inLen,
    outH: 1,
    outW: g.outLen,
    kH: 1,
    kW: k,
    strideH: 1,
    strideW: stride,
    padH: 0,
    padW: padding,
    dilH: 1,
    dilW: dilation,
  };
}

/** Options of {@link conv1d}. */
export interface Conv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  /** Applied after the bias in the kernel's epilogue: y = f(conv + b) in one dispatch. */
  activation?: Activation;
}

/** Options of {@link convTranspose1d}. */
export interface ConvTranspose1dOptions extends Conv1dOptions {
  /** Extra samples added at the end of the output (less than stride or dilation). */
  outputPadding?: number;
}

/** Options of {@link conv2d}: a number applies to both axes, a pair is [height, width]. */
export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
  /** Applied after the bias in the kernel's epilogue: y = f(conv + b) in one dispatch. */
  activation?: Activation;
}

/**
 * The weight in the order the kernel's k loop reads it, contiguous along the summed channels:
 * MODE 0 [cout, taps, cin_g], MODE 1 [groups, cin_g, taps, cout_g] (from [cout, cin_g, taps]).
 */
function permutedWeight(mode: number, geo: ConvGeometry, w: Tensor): Tensor {
  const cinG = geo.cin / geo.groups, coutG = geo.cout / geo.groups, taps = geo.kH * geo.kW;
  const [shape, strides] = mode === MODE.forward
    ? [[geo.cout, taps, cinG], [cinG * taps, 1, taps]]
    : [[geo.groups, cinG, taps, coutG], [coutG * cinG * taps, taps, 1, cinG * taps]];
  const out = Tensor.empty(shape);
  stridedCopy(w, 0, strides, out, 0, stridesOf(shape), shape);
  return out;
}

/** [batch, C, H, W] (or [batch, C, L]) copied to [batch, H·W, C]: channels contiguous. */
function channelsLast(x: Tensor): Tensor {
  const [batch, ch] = x.shape;
  const hw = x.size / Math.max(1, batch * ch);
  const out = Tensor.empty([batch, hw, ch]);
  stridedCopy(x, 0, [ch * hw, 1, hw], out, 0, [hw * ch, ch, 1], [batch, hw, ch]);
  return out;
}

/** What one product may take besides its operands. */
interface ConvExtras {
  /** The channels-last copy of `b` (MODES 0 and 1: the source; MODE 2: x), if already made. */
  channelsLast?: Tensor;
  /** MODES 0/1: f applied to (product + bias). */
  activation?: ActivationCode;
  /** MODES 0/1 with an activation: receives product + bias (the pre-activation). */
  pre?: Tensor;
}

/** Runs one product of shaders/conv.wgsl into `out` (no graph). */
function dispatchConv(
  mode: number,
  geo: ConvGeometry,
  a: Tensor,
  b: Tensor,
  bias: Tensor | null,
  out: Tensor,
  config: TileConfig | null = null,
  extras: ConvExtras = {},
): Tensor {
  if (out.size === 0) return out;
  const cinG = geo.cin / geo.groups;
  const coutG = geo.cout / geo.groups;
  const taps = geo.kH * geo.kW;
  // MODE 1 runs one dispatch slice per output phase (iy mod stride_h, ix mod stride_w), so
  // every tap it visits contributes: the stride never makes it multiply a zero.
  const phases = mode === MODE.inputGrad ? geo.strideH * geo.strideW : 1;
  const qH = Math.ceil(geo.inH / geo.strideH), qW = Math.ceil(geo.inW / geo.strideW);
  const [m, n, k] = mode === MODE.forward
    ? [coutG, geo.batch * geo.outH * geo.outW, cinG * taps]
    : mode === MODE.inputGrad
    ? [cinG, geo.batch * qH * qW, coutG * taps]
    : [coutG, cinG * taps, geo.batch * geo.outH * geo.outW];
  let cfg = config ?? rt().kernelChoices.convTile ??
    tunedChoice(CONV_TUNABLE, `${mode}/m${sizeBucket(m)}n${sizeBucket(n)}k${sizeBucket(k)}`, {
      mode,
      geo,
    }) ?? DEFAULT_CONV_CONFIG;
  // Very long outputs take the widest tile rather than overflow the grid.
  if (Math.ceil(n / (cfg.wgX * cfg.bn)) > MAX_GROUPS_X) cfg = { ...cfg, bn: 16, wgX: 16 };
  const cols = cfg.wgX * cfg.bn;
  const groupsX = Math.ceil(n / cols);
  if (groupsX > MAX_GROUPS_X) {
    throw new Error(`conv: ${n} output columns exceed one dispatch (${MAX_GROUPS_X * cols})`);
  }
  let wgY = cfg.wgY;
  while (wgY > 1 && (wgY / 2) * cfg.bm >= m) wgY /= 2;
  const aVec = mode === MODE.forward
    ? cinG % 4 === 0
    : mode === MODE.inputGrad
    ? coutG % 4 === 0
    : (geo.outH * geo.outW) % 4 === 0;
  const wp = mode === MODE.weightGrad ? null : permutedWeight(mode, geo, a);
  const bt = extras.channelsLast ? null : channelsLast(b);
  const bCl = extras.channelsLast ?? bt!;
  const srcCh = b.shape[1];
  const bVec = srcCh % 4 === 0 && (mode === MODE.inputGrad ? coutG : cinG) % 4 === 0;
  const act = extras.activation;
  // Read-only bindings the kernel may not use this time take any live buffer; the unused
  // pre-activation output is null (the runtime binds a stand-in).
  rt().dispatch(
    kernel,
    {
      a: (wp ?? a).buffer,
      b: bCl.buffer,
      b4: bCl.buffer,
      bias: (bias ?? a).buffer,
      out: out.buffer,
      pre: extras.pre?.buffer ?? null,
    },
    {
      batch: geo.batch,
      cin: geo.cin,
      cout: geo.cout,
      cin_g: cinG,
      cout_g: coutG,
      in_h: geo.inH,
      in_w: geo.inW,
      out_h: geo.outH,
      out_w: geo.outW,
      k_h: geo.kH,
      k_w: geo.kW,
      stride_h: geo.strideH,
      stride_w: geo.strideW,
      pad_h: geo.padH,
      pad_w: geo.padW,
      dil_h: geo.dilH,
      dil_w: geo.dilW,
      m,
      n,
      k,
      has_bias: bias ? 1 : 0,
      phases,
      q_h: qH,
      q_w: qW,
      act_alpha: act?.alpha ?? 0,
      // MODE 2's column order: blocks of 16 channels of one tap when they fit (shaders/conv.wgsl).
      ci_block: cinG % 16 === 0 ? 16 : cinG,
    },
    [groupsX, Math.ceil(m / (cfg.bm * wgY)), geo.groups * phases],
    {
      MODE: mode,
      A_VEC: aVec ? 1 : 0,
      B_VEC: bVec ? 1 : 0,
      BM: cfg.bm,
      BN: cfg.bn,
      WG_X: cfg.wgX,
      WG_Y: wgY,
      ACT: act ? 1 : 0,
      SAVE_PRE: extras.pre ? 1 : 0,
      OP: act?.code ?? 0,
    },
  );
  wp?.dispose();
  bt?.dispose();
  return out;
}

/** The convolution kernel (all three products), for the autotuner. */
export const CONV_TUNABLE: Tunable<{ mode: number; geo: ConvGeometry }> = {
  kernel: "conv",
  candidates: TILE_CONFIGS,
  prepare({ mode, geo }) {
    const x = zeros([geo.batch, geo.cin, geo.inH, geo.inW]);
    const dy = zeros([geo.batch, geo.cout, geo.outH, geo.outW]);
    const w = zeros([geo.cout, geo.cin / geo.groups, geo.kH, geo.kW]);
    const [a, b, out] = mode === MODE.forward
      ? [w, x, Tensor.empty(dy.shape)]
      : mode === MODE.inputGrad
      ? [w, dy, Tensor.empty(x.shape)]
      : [dy, x, Tensor.empty(w.shape)];
    return {
      run: (c) => dispatchConv(mode, geo, a, b, null, out, c),
      dispose: () => [x, dy, w, out].forEach((t) => t.dispose()),
    };
  },
};

/**
 * y = f(conv(x, w) + bias), shaped `shape` (no graph); `extras.pre` receives conv + bias when
 * there is an activation f, `extras.channelsLast` is x's channels-last copy if already made.
 */
function convForwardRaw(
  geo: ConvGeometry,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  shape: Shape,
  extras: ConvExtras = {},
): Tensor {
  return dispatchConv(MODE.forward, geo, w, x, bias, Tensor.empty(shape), null, extras);
}

/**
 * dx from dy (the transposed convolution of dy), then + bias and f as in
 * {@link convForwardRaw}, shaped `shape` (no graph).
 */
function convInputGradRaw(
  geo: ConvGeometry,
  dy: Tensor,
  w: Tensor,
  bias: Tensor | null,
  shape: Shape,
  extras: ConvExtras = {},
): Tensor {
  return dispatchConv(MODE.inputGrad, geo, w, dy, bias, Tensor.empty(shape), null, extras);
}

/**
 * dw = Σ over batch and positions of dy ⋆ x, shaped `shape` (no graph); `xChannelsLast` is x's
 * channels-last copy if already made.
 */
function convWeightGradRaw(
  geo: ConvGeometry,
  x: Tensor,
  dy: Tensor,
  shape: Shape,
  xChannelsLast?: Tensor,
): Tensor {
  return dispatchConv(MODE.weightGrad, geo, dy, x, null, Tensor.empty(shape), null, {
    channelsLast: xChannelsLast,
  });
}

/** Whether an op with these inputs records its gradient. */
function recordsGrad(inputs: (Tensor | null)[]): boolean {
  return isGradEnabled() && inputs.some((t) => t?.requiresGrad);
}

function pair(v: number | readonly [number, number], what: string): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (p.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`conv2d: ${what} must be non-negative integers, got ${v}`);
  }
  return p;
}

function checkPositive(values: Record<string, number>, op: string): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: ${name} must be ≥ 1, got ${v}`);
  }
}

function checkNonNegative(values: Record<string, number>, op: string): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: ${name} must be ≥ 0, got ${v}`);
  }
}

function checkBias(op: string, b: Tensor | null, channels: number): void {
  if (b && (b.ndim !== 1 || b.shape[0] !== channels)) {
    throw new Error(`${op}: bias [${b.shape}] should be [${channels}]`);
  }
}

/**
 * The differentiable forward convolution shared by conv1d and conv2d: x and w may be 1-D or
 * 2-D views of the same geometry (height 1 for 1-D). With an activation f, y = f(conv + b) in
 * the kernel's epilogue, and the backward starts with one fused kernel for f', the bias gradient
 * and the channels-last dy the input gradient reads (engine/ops/bias_act.ts).
 */
function convolution(
  op: string,
  geo: ConvGeometry,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  outShape: Shape,
  act: ActivationCode | null,
): Tensor {
  const grad = recordsGrad([x, w, b]);
  // x channels-last is the forward's source and, kept, the weight gradient's.
  const xCl = channelsLast(x);
  const pre = act && grad ? Tensor.empty(outShape) : null;
  const out = convForwardRaw(geo, x, w, b, outShape, {
    channelsLast: xCl,
    activation: act ?? undefined,
    pre: pre ?? undefined,
  });
  if (!(grad && w.requiresGrad)) xCl.dispose();
  return record(out, op, b ? [x, w, b] : [x, w], (g) => {
    const { dpre, dpreChannelsLast, dbias } = biasActivationBackward(g, pre, act, {
      ncw: act !== null && w.requiresGrad,
      channelsLast: x.requiresGrad,
      bias: b?.requiresGrad ?? false,
    });
    const d = dpre ?? g;
    const dx = x.requiresGrad
      ? convInputGradRaw(geo, d, w, null, x.shape, { channelsLast: dpreChannelsLast! })
      : null;
    const dw = w.requiresGrad ? convWeightGradRaw(geo, x, d, w.shape, xCl) : null;
    dpre?.dispose();
    dpreChannelsLast?.dispose();
    return [dx, dw, dbias];
  });
}

/**
 * 1-D convolution (cross-correlation, like PyTorch `F.conv1d`): x [N, Cin, L],
 * w [Cout, Cin/groups, K], b [Cout] or null → [N, Cout, Lout] with
 * Lout = ⌊(L + 2·padding − dilation·(K − 1) − 1) / stride⌋ + 1. Differentiable in x, w and b.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.randn([2, 80, 64], { seed: 1 });
 * const w = ag.randn([64, 80, 5], { seed: 2 });
 * const y = ag.conv1d(x, w, null, { padding: 2 }); // [2, 64, 64]
 * ```
 */
export function conv1d(
  x: Tensor,
  w: Tensor,
  b: Tensor | null = null,
  opts: Conv1dOptions = {},
): Tensor {
  const { stride = 1, padding = 0, dilation = 1, groups = 1 } = opts;
  checkPositive({ stride, dilation, groups }, "conv1d");
  checkNonNegative({ padding }, "conv1d");
  if (x.ndim !== 3 || w.ndim !== 3) {
    throw new Error(`conv1d: x [${x.shape}] and w [${w.shape}] must both be 3-D`);
  }
  const [batch, cin, len] = x.shape;
  const [cout, cinG, k] = w.shape;
  if (cin % groups !== 0 || cout % groups !== 0 || cinG * groups !== cin) {
    throw new Error(
      `conv1d: x [${x.shape}] and w [${w.shape}] do not fit ${groups} group(s) ` +
        `(w must be [Cout, Cin/groups, K] with Cin and Cout divisible by groups)`,
    );
  }
  checkBias("conv1d", b, cout);
  const outLen = Math.floor((len + 2 * padding - dilation * (k - 1) - 1) / stride) + 1;
  if (outLen < 1) {
    throw new Error(
      `conv1d: input length ${len} is too short for kernel ${k} (dilation ` +
        `${dilation}, padding ${padding})`,
    );
  }
  // One filter per channel: the implicit GEMM would waste all but one row of every tile.
  if (groups > 1 && groups === cin && cout === cin) {
    const y = depthwiseConv1d(x, w, b, { stride, padding, dilation });
    return opts.activation ? unary(opts.activation.op, y, opts.activation.alpha) : y;
  }
  const geo = lineGeometry(
    { batch, cin, cout, groups, inLen: len, outLen },
    k,
    stride,
    padding,
    dilation,
  );
  const act = opts.activation ? activationCode(opts.activation) : null;
  return convolution("conv1d", geo, x, w, b, [batch, cout, outLen], act);
}

/**
 * 2-D convolution (PyTorch `F.conv2d`): x [N, Cin, H, W], w [Cout, Cin/groups, KH, KW],
 * b [Cout] or null → [N, Cout, Hout, Wout]. `stride`, `padding` and `dilation` are a number or a
 * [height, width] pair. Differentiable in x, w and b.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.randn([1, 3, 16, 16], { seed: 1 });
 * const w = ag.randn([8, 3, 3, 3], { seed: 2 });
 * const y = ag.conv2d(x, w, null, { stride: 2, padding: 1 }); // [1, 8, 8, 8]
 * ```
 */
export function conv2d(
  x: Tensor,
  w: Tensor,
  b: Tensor | null = null,
  opts: Conv2dOptions = {},
): Tensor {
  const [strideH, strideW] = pair(opts.stride ?? 1, "stride");
  const [padH, padW] = pair(opts.padding ?? 0, "padding");
  const [dilH, dilW] = pair(opts.dilation ?? 1, "dilation");
  const groups = opts.groups ?? 1;
  checkPositive({ strideH, strideW, dilH, dilW, groups }, "conv2d");
  if (x.ndim !== 4 || w.ndim !== 4) {
    throw new Error(`conv2d: x [${x.shape}] and w [${w.shape}] must both be 4-D`);
  }
  const [batch, cin, inH, inW] = x.shape;
  const [cout, cinG, kH, kW] = w.shape;
  if (cin % groups !== 0 || cout % groups !== 0 || cinG * groups !== cin) {
    throw new Error(
      `conv2d: x [${x.shape}] and w [${w.shape}] do not fit ${groups} group(s) ` +
        `(w must be [Cout, Cin/groups, KH, KW] with Cin and Cout divisible by groups)`,
    );
  }
  checkBias("conv2d", b, cout);
  const outH = Math.floor((inH + 2 * padH - dilH * (kH - 1) - 1) / strideH) + 1;
  const outW = Math.floor((inW + 2 * padW - dilW * (kW - 1) - 1) / strideW) + 1;
  if (outH < 1 || outW < 1) {
    throw new Error(`conv2d: input ${inH}×${inW} is too small for kernel ${kH}×${kW}`);
  }
  const geo: ConvGeometry = {
    batch,
    cin,
    cout,
    groups,
    inH,
    inW,
    outH,
    outW,
    kH,
    kW,
    strideH,
    strideW,
    padH,
    padW,
    dilH,
    dilW,
  };
  const act = opts.activation ? activationCode(opts.activation) : null;
  return convolution("conv2d", geo, x, w, b, [batch, cout, outH, outW], act);
}

/**
 * 1-D transposed convolution (PyTorch `F.conv_transpose1d`): x [N, Cin, L],
 * w [Cin, Cout/groups, K], b [Cout] or null → [N, Cout, Lout] with
 * Lout = (L − 1)·stride − 2·padding + dilation·(K − 1) + outputPadding + 1.
 * It is the input gradient of `conv1d` with the same weight, and its own gradients are that
 * conv1d's forward (for x) and weight gradient (for w). Differentiable in x, w and b.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const z = ag.randn([2, 32, 16], { seed: 1 });
 * const w = ag.randn([32, 64, 4], { seed: 2 });
 * const y = ag.convTranspose1d(z, w, null, { stride: 2, padding: 1 }); // [2, 64, 32]
 * ```
 */
export function convTranspose1d(
  x: Tensor,
  w: Tensor,
  b: Tensor | null = null,
  opts: ConvTranspose1dOptions = {},
): Tensor {
  const { stride = 1, padding = 0, outputPadding = 0, dilation = 1, groups = 1 } = opts;
  checkPositive({ stride, dilation, groups }, "convTranspose1d");
  checkNonNegative({ padding, outputPadding }, "convTranspose1d");
  if (outputPadding >= Math.max(stride, dilation)) {
    throw new Error(
      `convTranspose1d: outputPadding ${outputPadding} must be smaller than stride or dilation`,
    );
  }
  if (x.ndim !== 3 || w.ndim !== 3) {
    throw new Error(`convTranspose1d: x [${x.shape}] and w [${w.shape}] must both be 3-D`);
  }
  const [batch, cin, len] = x.shape;
  const [wIn, coutG, k] = w.shape;
  if (wIn !== cin || cin % groups !== 0) {
    throw new Error(
      `convTranspose1d: x [${x.shape}] and w [${w.shape}] do not fit ${groups} group(s) ` +
        `(w must be [Cin, Cout/groups, K] with Cin divisible by groups)`,
    );
  }
  const cout = coutG * groups;
  checkBias("convTranspose1d", b, cout);
  const outLen = (len - 1) * stride - 2 * padding + dilation * (k - 1) + outputPadding + 1;
  if (outLen < 1) throw new Error(`convTranspose1d: output length ${outLen} < 1`);
  // The conv1d this transposes: it maps [N, Cout, outLen] to [N, Cin, len] with weight w.
  const geo = lineGeometry(
    { batch, cin: cout, cout: cin, groups, inLen: outLen, outLen: len },
    k,
    stride,
    padding,
    dilation,
  );
  const act = opts.activation ? activationCode(opts.activation) : null;
  const grad = recordsGrad([x, w, b]);
  const pre = act && grad ? Tensor.empty([batch, cout, outLen]) : null;
  const out = convInputGradRaw(geo, x, w, b, [batch, cout, outLen], {
    activation: act ?? undefined,
    pre: pre ?? undefined,
  });
  return record(out, "convTranspose1d", b ? [x, w, b] : [x, w], (g) => {
    // Both gradients read dpre channels-last: x's as the source of the forward conv1d, w's as
    // the weight gradient's x.
    const { dpreChannelsLast, dbias } = biasActivationBackward(g, pre, act, {
      ncw: false,
      channelsLast: x.requiresGrad || w.requiresGrad,
      bias: b?.requiresGrad ?? false,
    });
    const d = dpreChannelsLast!;
    const dx = x.requiresGrad
      ? convForwardRaw(geo, g, w, null, x.shape, { channelsLast: d })
      : null;
    const dw = w.requiresGrad ? convWeightGradRaw(geo, g, x, w.shape, d) : null;
    d?.dispose();
    return [dx, dw, dbias];
  });
}
