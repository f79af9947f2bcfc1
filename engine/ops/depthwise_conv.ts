/**
 * Depthwise 1-D convolution — one filter per channel, PyTorch's `conv1d(groups = channels)` —
 * with its own kernels (shaders/depthwise_conv.wgsl): the implicit-GEMM convolution runs such a
 * layer as `channels` one-row products and wastes most of every tile. Forward, input gradient
 * and weight gradient are three entry points of that file; the bias gradient is a sum. The
 * layout is PyTorch's [N, C, L] or, with `channelsLast`, [N, L, C] (the layout of the
 * per-position layers around it in a ConvNeXt block, so no transposes are needed).
 * `conv1d` routes its depthwise case here.
 * @module
 */
import source from "../../shaders/depthwise_conv.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";
import { sum } from "./reduce.ts";

const forwardKernel = new Kernel("depthwise_conv", source, "forward");
const inputGradKernel = new Kernel("depthwise_conv_input_grad", source, "input_grad");
const weightGradKernel = new Kernel("depthwise_conv_weight_grad", source, "weight_grad");

/** Options of {@link depthwiseConv1d}. */
export interface DepthwiseConv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  /** x and the output are [N, L, C] instead of [N, C, L]. */
  channelsLast?: boolean;
}

/**
 * Depthwise 1-D convolution: x [N, C, L] (or [N, L, C] with `channelsLast`), w [C, 1, K],
 * b [C] or null → [N, C, Lout] (or [N, Lout, C]) with
 * Lout = ⌊(L + 2·padding − dilation·(K − 1) − 1) / stride⌋ + 1; equal to
 * `conv1d(x, w, b, { groups: C, ... })`. Differentiable in x, w and b.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * const x = ag.randn([2, 100, 64], { seed: 1 }); // [N, L, C]
 * const w = ag.randn([64, 1, 7], { seed: 2 });
 * const y = ag.depthwiseConv1d(x, w, null, { padding: 3, channelsLast: true }); // [2, 100, 64]
 * ```
 */
export function depthwiseConv1d(
  x: Tensor,
  w: Tensor,
  b: Tensor | null = null,
  opts: DepthwiseConv1dOptions = {},
): Tensor {
  const { stride = 1, padding = 0, dilation = 1, channelsLast = false } = opts;
  for (const [name, v] of Object.entries({ stride, dilation })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`depthwiseConv1d: ${name} must be ≥ 1, got ${v}`);
    }
  }
  if (!Number.isInteger(padding) || padding < 0) {
    throw new Error(`depthwiseConv1d: padding must be a non-negative integer, got ${padding}`);
  }
  if (x.ndim !== 3 || w.ndim !== 3) {
    throw new Error(`depthwiseConv1d: x [${x.shape}] and w [${w.shape}] must both be 3-D`);
  }
  const [batch, a1, a2] = x.shape;
  const [channels, len] = channelsLast ? [a2, a1] : [a1, a2];
  const k = w.shape[2];
  if (w.shape[0] !== channels || w.shape[1] !== 1) {
    throw new Error(
      `depthwiseConv1d: w [${w.shape}] should be [${channels}, 1, K] for x [${x.shape}]`,
    );
  }
  if (b && (b.ndim !== 1 || b.shape[0] !== channels)) {
    throw new Error(`depthwiseConv1d: bias [${b.shape}] should be [${channels}]`);
  }
  const outLen = Math.floor((len + 2 * padding - dilation * (k - 1) - 1) / stride) + 1;
  if (outLen < 1) {
    throw new Error(
      `depthwiseConv1d: input length ${len} is too short for kernel ${k} (dilation ` +
        `${dilation}, padding ${padding})`,
    );
  }
  const params = {
    batch,
    channels,
    in_len: len,
    out_len: outLen,
    kernel: k,
    stride,
    padding,
    dilation,
    has_bias: b ? 1 : 0,
  };
  const constants = { CHANNELS_LAST: channelsLast ? 1 : 0 };
  const outShape = channelsLast ? [batch, outLen, channels] : [batch, channels, outLen];
  const out = Tensor.empty(outShape);
  if (out.size > 0) {
    rt().dispatch(
      forwardKernel,
      { x: x.buffer, w: w.buffer, bias: (b ?? w).buffer, y: out.buffer },
      params,
      grid1d(out.size, 256),
      constants,
    );
  }
  return record(out, "depthwiseConv1d", b ? [x, w, b] : [x, w], (g) => {
    let dx: Tensor | null = null, dw: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape);
      if (dx.size > 0) {
        rt().dispatch(
          inputGradKernel,
          { w: w.buffer, dy: g.buffer, dx: dx.buffer },
          params,
          grid1d(dx.size, 256),
          constants,
        );
      }
    }
    if (w.requiresGrad) {
      dw = Tensor.empty(w.shape);
      if (dw.size > 0) {
        rt().dispatch(
          weightGradKernel,
          { x: x.buffer, dy: g.buffer, dw: dw.buffer },
          params,
          grid1d(channels * k, 1),
          constants,
        );
      }
    }
    return [dx, dw, b?.requiresGrad ? sum(g, channelsLast ? [0, 1] : [0, 2]) : null];
  });
}
