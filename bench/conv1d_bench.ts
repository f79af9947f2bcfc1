/**
 * 1-D convolution, ours (`conv1d`, NCW) against TensorFlow.js WebGPU (`tf.conv1d`, NWC) on the
 * same adapter. tfjs's inputs are transposed to its layout once, outside the timing; each side
 * produces the output in its own layout. No bias on either side (pure convolution).
 * GFLOP/s (2·N·Cout·Cin·K·Lout per convolution) are printed by `bench/report.ts`.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { checkAgreement, peerCase, randomF32, registerBenches, tf } from "./peer.ts";

function conv1dCase(
  batch: number,
  cin: number,
  cout: number,
  k: number,
  len: number,
  padding: number,
) {
  const outLen = len + 2 * padding - k + 1;
  const label = `conv1d ${batch}×${cin}→${cout} k${k} L${len}`;
  return peerCase({
    label,
    workPerOp: 2 * batch * cout * cin * k * outLen,
    unit: "GFLOP/s",
    async setup() {
      const xd = randomF32(batch * cin * len, 3), wd = randomF32(cout * cin * k, 4);
      const x = ag.tensor(xd, [batch, cin, len]), w = ag.tensor(wd, [cout, cin, k]);
      // tfjs layouts: x [N, L, Cin], filter [K, Cin, Cout]; transposed once, here.
      const tx = tf.transpose(tf.tensor3d(xd, [batch, cin, len]), [0, 2, 1]);
      const tw = tf.transpose(tf.tensor3d(wd, [cout, cin, k]), [2, 1, 0]);
      // tfjs's conv1d with a numeric pad also pads the dummy height axis and returns the wrong
      // shape; for stride 1 and an odd kernel with padding (k − 1)/2, 'same' is that padding.
      if (padding !== (k - 1) / 2) throw new Error(`${label}: only 'same' padding is benched`);
      // Warm-up and agreement check (tfjs output back to NCW for the comparison only).
      const y = ag.conv1d(x, w, null, { padding });
      const ty = tf.conv1d(tx, tw, 1, "same");
      const tyNcw = tf.transpose(ty, [0, 2, 1]);
      checkAgreement(label, await y.toArray(), await tyNcw.data(), 1e-4);
      y.dispose();
      tf.dispose([ty, tyNcw]);
      return {
        ours: () => ag.conv1d(x, w, null, { padding }).dispose(),
        peer: () => tf.conv1d(tx, tw, 1, "same").dispose(),
      };
    },
  });
}

/** The cases, shared with bench/report.ts: the VAE encoder's first layer and a 256→256 k3 layer. */
export const cases = [
  conv1dCase(16, 80, 256, 5, 256, 2),
  conv1dCase(16, 256, 256, 3, 256, 1),
];

registerBenches(cases);
