/**
 * The fused "+ bias, then activation" epilogue of the convolutions and of `linear`: how an op
 * names its activation ({@link Activation}, any unary op of the op table), and the one kernel
 * (shaders/bias_act.wgsl) that computes the epilogue's gradient — dpre = dy · f'(pre) and the
 * bias gradient Σ dpre — writing dpre in the layouts the product's own gradients read. The
 * forward epilogue lives in each product's kernel (shaders/conv.wgsl, shaders/matmul.wgsl), so
 * a layer's forward is one dispatch and its bias and activation gradients one more.
 * @module
 */
import source from "../../shaders/bias_act.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { zeros } from "./creation.ts";
import { type UnaryOp, unarySpec } from "./elementwise_table.ts";
import { UNARY_FUNCTIONS, unaryCode } from "./elementwise_kernels.ts";

const kernel = new Kernel("bias_act_backward", `${UNARY_FUNCTIONS}\n${source}`);

/** An activation applied after the bias: unary op `op` of the op table with its scalar. */
export interface Activation {
  op: UnaryOp;
  /** The op's scalar (e.g. leakyRelu's slope); its default when omitted. */
  alpha?: number;
}

/** What a kernel needs to apply an activation: the op's code (the OP override) and scalar. */
export interface ActivationCode {
  code: number;
  alpha: number;
}

/** The kernel code and scalar of `act`; throws naming the op when it needs a scalar or takes none. */
export function activationCode(act: Activation): ActivationCode {
  const spec = unarySpec(act.op);
  if (spec.alpha === undefined && act.alpha !== undefined) {
    throw new Error(`activation '${act.op}' takes no scalar, got ${act.alpha}`);
  }
  const alpha = act.alpha ?? spec.alpha?.default;
  if (spec.alpha !== undefined && alpha === undefined) {
    throw new Error(`activation '${act.op}' needs its ${spec.alpha.name}`);
  }
  return { code: unaryCode(act.op), alpha: alpha ?? 0 };
}

/** Which gradients {@link biasActivationBackward} writes. */
export interface BiasActivationNeeds {
  /** dpre in dy's layout [items, channels, positions]. */
  ncw: boolean;
  /** dpre channels-last [items, positions, channels] (what the convolutions' gradients read). */
  channelsLast: boolean;
  /** The bias gradient [channels]. */
  bias: boolean;
}

/** The gradients {@link biasActivationBackward} wrote (null where not asked for). */
export interface BiasActivationGrads {
  dpre: Tensor | null;
  dpreChannelsLast: Tensor | null;
  dbias: Tensor | null;
}

/**
 * The gradient of y = f(z + bias) from dy, both [items, channels, positions…] (dy's shape): dpre =
 * dy · f'(pre) with pre = z + bias as the forward saved it (no activation: act and pre null,
 * dpre = dy), and dbias = Σ dpre over items and positions. No graph.
 */
export function biasActivationBackward(
  dy: Tensor,
  pre: Tensor | null,
  act: ActivationCode | null,
  needs: BiasActivationNeeds,
): BiasActivationGrads {
  if (act && !pre) throw new Error("biasActivationBackward: an activation needs its input");
  if (dy.ndim < 2) throw new Error(`biasActivationBackward: dy [${dy.shape}] has no channel axis`);
  const [items, channels] = dy.shape;
  const positions = dy.size / Math.max(1, items * channels);
  const dpre = needs.ncw ? Tensor.empty(dy.shape) : null;
  const dpreChannelsLast = needs.channelsLast ? Tensor.empty([items, positions, channels]) : null;
  if (dy.size === 0) {
    // No items: the bias gradient is an empty sum.
    return { dpre, dpreChannelsLast, dbias: needs.bias ? zeros([channels]) : null };
  }
  const dbias = needs.bias ? Tensor.empty([channels]) : null;
  if (dpre || dpreChannelsLast || dbias) {
    // Outputs not asked for are never written: null bindings (the runtime binds stand-ins).
    rt().dispatch(
      kernel,
      {
        dy: dy.buffer,
        pre: (pre ?? dy).buffer,
        dpre_out: dpre?.buffer ?? null,
        dpre_cl: dpreChannelsLast?.buffer ?? null,
        dbias: dbias?.buffer ?? null,
      },
      { items, channels, positions, alpha: act?.alpha ?? 0 },
      grid1d(channels, 1),
      {
        ACT: act ? 1 : 0,
        OP: act?.code ?? 0,
        NEED_NCW: dpre ? 1 : 0,
        NEED_CL: dpreChannelsLast ? 1 : 0,
        NEED_BIAS: dbias ? 1 : 0,
      },
    );
  }
  return { dpre, dpreChannelsLast, dbias };
}
