/**
 * One fused AdamW update of 5M parameters, ours (`ag.AdamW.step()`: one dispatch of
 * shaders/adam.wgsl per parameter tensor, reading and writing p, m, v once) against the same
 * update written with TensorFlow.js WebGPU ops on the same adapter (tfjs has no AdamW; its
 * `tf.train.adam` has no weight decay):
 *
 *   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;  m̂ = m / (1 − β1^t);  v̂ = v / (1 − β2^t)
 *   p = p·(1 − lr·wd) − lr·m̂ / (√v̂ + eps)
 *
 * in `tf.tidy` with `variable.assign` for p, m and v (15 elementwise kernels; constant scalars
 * uploaded once, the two bias corrections per step as tfjs's own optimizers do). Both sides start
 * from the same parameters and gradient (one tensor of 5,000,000, gradient kept on the GPU), with
 * lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01; setup takes two steps on each side and
 * compares the parameter change, m and v (see the tolerances there). Every timed run is one more
 * step on each side. Throughput is in millions of parameters updated per second (printed by
 * `bench/report.ts`).
 * @module
 */
import * as ag from "../engine/mod.ts";
import { peerCase, randomF32, registerBenches, relError, tf } from "./peer.ts";

function adamwCase(n: number) {
  const label = `AdamW step ${n / 1e6}M params`;
  const lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  return peerCase({
    label,
    workPerOp: n / 1e6,
    unit: "Mparam/s",
    peer: { name: "tfjs-webgpu (ops)" },
    async setup() {
      const pd = randomF32(n, 7), gd = randomF32(n, 8);
      // Ours: one parameter with its gradient set, as after backward().
      const p = ag.tensor(pd, [n], { requiresGrad: true });
      p.grad = ag.tensor(gd, [n]);
      const opt = new ag.AdamW([p], { lr, betas: [b1, b2], eps, weightDecay: wd });
      // Peer: the same state as tfjs variables, the gradient as a tensor.
      const tp = tf.variable(tf.tensor1d(pd)), tg = tf.tensor1d(gd);
      const tm = tf.variable(tf.zeros([n])), tv = tf.variable(tf.zeros([n]));
      const c = {
        b1: tf.scalar(b1),
        omb1: tf.scalar(1 - b1),
        b2: tf.scalar(b2),
        omb2: tf.scalar(1 - b2),
        lr: tf.scalar(lr),
        eps: tf.scalar(eps),
        decay: tf.scalar(1 - lr * wd),
      };
      let t = 0;
      const peerStep = () => {
        t++;
        tf.tidy(() => {
          const m = tf.add(tf.mul(c.b1, tm), tf.mul(c.omb1, tg));
          const v = tf.add(tf.mul(c.b2, tv), tf.mul(c.omb2, tf.square(tg)));
          const mHat = tf.div(m, tf.scalar(1 - b1 ** t));
          const vHat = tf.div(v, tf.scalar(1 - b2 ** t));
          const step = tf.div(tf.mul(c.lr, mHat), tf.add(tf.sqrt(vHat), c.eps));
          tm.assign(m);
          tv.assign(v);
          tp.assign(tf.sub(tf.mul(tp, c.decay), step));
        });
      };
      // Warm-up and agreement check: two steps each (the second exercises the bias corrections
      // and nonzero moments). The change in p is ~lr, so f32 rounding of p (~6e-8) bounds its
      // relative agreement near 1e-4 (1e-3 allowed); m and v must agree to 1e-5 (1 − β reaches
      // our kernel computed in float64, as tfjs and PyTorch form it).
      for (let i = 0; i < 2; i++) {
        opt.step();
        peerStep();
      }
      const st = opt.state().params.get("0")!;
      const [op, om, ov] = await Promise.all([p, st.expAvg, st.expAvgSq].map((x) => x.toArray()));
      const [pp, pm, pv] = await Promise.all([tp, tm, tv].map((x) => x.data()));
      const delta = (x: ArrayLike<number>) => Float64Array.from(x, (xi, i) => xi - pd[i]);
      const errs = {
        dp: relError(delta(op), delta(pp)),
        m: relError(om, pm),
        v: relError(ov, pv),
      };
      if (errs.dp > 1e-3 || errs.m > 1e-5 || errs.v > 1e-5) {
        throw new Error(`${label}: ours vs tfjs differ (rel ${JSON.stringify(errs)})`);
      }
      return { ours: () => opt.step(), peer: peerStep };
    },
  });
}

/** The case, shared with bench/report.ts: 5,000,000 parameters in one tensor. */
export const cases = [adamwCase(5_000_000)];

registerBenches(cases);
