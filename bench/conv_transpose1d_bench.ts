/**
 * 1-D transposed convolution, ours (`convTranspose1d`, NCW, PyTorch semantics) against
 * TensorFlow.js WebGPU on the same adapter. tfjs has no conv1dTranspose, so the peer is
 * `tf.conv2dTranspose` on a [N, 1, L, C] view (NHWC with height 1): the true adjoint of a strided
 * convolution, the same FLOPs as ours. Its filter is [1, K, Cout, Cin], our [Cin, Cout, K]
 * transposed once, outside the timing (no flip: both are the input gradient of the same
 * convolution). tfjs's 'same' padding for output stride·L, kernel 4, stride 2 is 1 on each side,
 * PyTorch's padding 1; the setup checks the shape and the values. No bias on either side.
 * GFLOP/s (2·N·Cin·Cout·K·Lin per transposed convolution) are printed by `bench/report.ts`.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { checkAgreement, peerCase, randomF32, registerBenches, tf } from "./peer.ts";

function convTranspose1dCase(
  batch: number,
  cin: number,
  cout: number,
  k: number,
  len: number,
  stride: number,
  padding: number,
) {
  const outLen = (len - 1) * stride - 2 * padding + k;
  const label = `convT1d ${batch}×${cin}→${cout} k${k} s${stride} L${len}→${outLen}`;
  return peerCase({
    label,
    workPerOp: 2 * batch * cin * cout * k * len,
    unit: "GFLOP/s",
    async setup() {
      // tfjs's 'same' output is stride·L; that is PyTorch's only for this padding.
      if (outLen !== stride * len) {
        throw new Error(`${label}: only padding giving output stride·L ('same') is benched`);
      }
      const xd = randomF32(batch * cin * len, 5), wd = randomF32(cin * cout * k, 6);
      const x = ag.tensor(xd, [batch, cin, len]), w = ag.tensor(wd, [cin, cout, k]);
      const opts = { stride, padding };
      // tfjs layouts: x [N, 1, L, Cin], filter [1, K, Cout, Cin]; transposed once, here.
      const tx = tf.tidy(() =>
        tf.reshape(tf.transpose(tf.tensor3d(xd, [batch, cin, len]), [0, 2, 1]), [
          batch,
          1,
          len,
          cin,
        ]) as tf.Tensor4D
      );
      const tw = tf.tidy(() =>
        tf.reshape(tf.transpose(tf.tensor3d(wd, [cin, cout, k]), [2, 1, 0]), [
          1,
          k,
          cout,
          cin,
        ]) as tf.Tensor4D
      );
      const outShape: [number, number, number, number] = [batch, 1, outLen, cout];
      const peerOp = () => tf.conv2dTranspose(tx, tw, outShape, [1, stride], "same");
      // Warm-up and agreement check (tfjs output back to NCW for the comparison only).
      const y = ag.convTranspose1d(x, w, null, opts);
      const ty = peerOp();
      if (y.shape.join() !== [batch, cout, outLen].join() || ty.shape.join() !== outShape.join()) {
        throw new Error(`${label}: shapes ours [${y.shape}], tfjs [${ty.shape}]`);
      }
      const tyNcw = tf.transpose(tf.reshape(ty, [batch, outLen, cout]), [0, 2, 1]);
      checkAgreement(label, await y.toArray(), await tyNcw.data(), 1e-4);
      y.dispose();
      tf.dispose([ty, tyNcw]);
      return {
        ours: () => ag.convTranspose1d(x, w, null, opts).dispose(),
        peer: () => peerOp().dispose(),
      };
    },
  });
}

/** The cases, shared with bench/report.ts: the VAE decoder's upsampling layer (256→256, ×2). */
export const cases = [
  convTranspose1dCase(16, 256, 256, 4, 128, 2, 1),
];

registerBenches(cases);
