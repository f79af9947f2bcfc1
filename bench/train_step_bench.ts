/**
 * Training throughput of the mel VAE: one optimisation step (forward, backward, gradient-norm
 * clipping, Adam) of `DEFAULT_MODEL` on a batch of 16 crops of 128 frames, ours
 * (`VaeTrainer.recordStep`) against the same architecture written with `@tensorflow/tfjs-core`
 * ops on its WebGPU backend on the same adapter. Mel frames per second (batch · crop per step)
 * are printed by `bench/report.ts train_step`, with the PyTorch CPU twin of TARGETS.md (not run
 * here) beside them; setup prints our dispatches per step.
 *
 * The tfjs model works in NWC ([batch, frames, channels], tfjs's native conv1d layout):
 *
 *   encoder  conv1d 80→256 k5 'same' → GELU → 2 × [pad 1 | conv1d 256→256 k4 s2 'valid' → GELU]
 *            → conv1d 256→64 k3 'same' → μ, log σ² (split on the channel axis)
 *   z        μ + exp(½ log σ²) · ε, ε = tf.randomNormal
 *   decoder  conv1d 32→256 k3 'same' → GELU → 2 × [conv2dTranspose 256→256 (1×4, stride 1×2,
 *            'same') on a [N, 1, L, C] view → GELU] → conv1d 256→80 k5 'same'
 *
 * GELU is the exact form 0.5·x·(1 + erf(x/√2)) (tfjs has no gelu op; ours is also exact).
 * The transposed convolution is `tf.conv2dTranspose` (the true adjoint of a strided conv, the
 * same FLOPs as ours), not a conv1d over a zero-stuffed input (twice the multiplies); its 'same'
 * padding for output 2L, kernel 4, stride 2 is 1 on each side, PyTorch's padding 1. Loss as
 * vae/elbo.ts: Gaussian NLL with a learned global log-scale plus β · free-bits KL (β = 1: the KL
 * warm-up is off on both sides), per frame. Gradients are clipped to global norm 5 like ours, and
 * the update is `tf.train.adam` (lr 1e-3, betas 0.9/0.999, eps 1e-8), which is what ours computes
 * (AdamW with weight decay 0, the training default).
 *
 * Fairness: both sides draw the same crops from a `CropSampler` over the same random mels (the
 * tfjs batch is transposed to NWC on the CPU, ~1 ms), and both apply the update only when loss,
 * reconstruction, KL and gradient norm are finite: tfjs reads them back to decide, ours decides
 * on the GPU (the trainer's FiniteStepGate gates AdamW; no readback, as in training between log
 * lines). Both then wait until their GPU queue is idle, so a timed run is one whole step on
 * either side.
 * Setup copies our initial weights into the tfjs variables and checks that both compute the same
 * deterministic (z = μ) loss, gradient norm and reconstruction; none of that is timed.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { DEFAULT_MODEL, DEFAULT_TRAIN, type TrainConfig } from "../vae/config.ts";
import { CropSampler, type MelClip, normalizationStats } from "../vae/data.ts";
import { elboTerms } from "../vae/elbo.ts";
import { MelVae } from "../vae/model.ts";
import { VaeTrainer } from "../vae/trainer.ts";
import {
  type BenchCase,
  oursSync,
  peerCase,
  peerSync,
  randomF32,
  registerBenches,
  relError,
  tf,
} from "./peer.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

type AdamGrads = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

/**
 * tfjs-core alone ships no gradient functions (the `@tensorflow/tfjs` union package registers
 * them from `dist/register_all_gradients.js`, whose extensionless ES imports Deno cannot load),
 * so the ones this model needs are registered here, written as tfjs's own (tfjs-core 4.22.0
 * `src/gradients/*_grad.ts`, same ops, so the same kernels run); the agreement check in setup
 * compares the resulting gradient norm with ours.
 */
function registerGradients(): void {
  type Grads = Record<string, () => tf.Tensor>;
  type Attrs = Record<string, unknown>;
  /** Sums a broadcast gradient back to `shape` (tfjs's broadcast_util.getReductionAxes). */
  const reduceTo = (dy: tf.Tensor, shape: number[]): tf.Tensor => {
    const lead = dy.rank - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < dy.rank; i++) {
      if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
    }
    return tf.reshape(axes.length ? tf.sum(dy, axes) : dy, shape);
  };
  const grads: Array<
    [string, string[], boolean, (dy: tf.Tensor, saved: tf.Tensor[], attrs: Attrs) => Grads]
  > = [
    ["Add", ["a", "b"], false, (dy, [a, b]) => ({
      a: () => reduceTo(dy, a.shape),
      b: () => reduceTo(dy, b.shape),
    })],
    ["Sub", ["a", "b"], false, (dy, [a, b]) => ({
      a: () => reduceTo(dy, a.shape),
      b: () => tf.neg(reduceTo(dy, b.shape)),
    })],
    ["Multiply", ["a", "b"], false, (dy, [a, b]) => ({
      a: () => reduceTo(tf.mul(dy, b), a.shape),
      b: () => reduceTo(tf.mul(dy, a), b.shape),
    })],
    ["Maximum", ["a", "b"], false, (dy, [a, b]) => ({
      a: () => reduceTo(tf.mul(dy, tf.cast(tf.greaterEqual(a, b), "float32")), a.shape),
      b: () => reduceTo(tf.mul(dy, tf.cast(tf.less(a, b), "float32")), b.shape),
    })],
    ["Neg", [], false, (dy) => ({ x: () => tf.neg(dy) })],
    ["Exp", [], true, (dy, [y]) => ({ x: () => tf.mul(dy, y) })],
    ["Square", ["x"], false, (dy, [x]) => ({ x: () => tf.mul(dy, tf.mul(x, 2)) })],
    ["Erf", ["x"], false, (dy, [x]) => ({
      x: () => tf.mul(dy, tf.mul(2 / Math.sqrt(Math.PI), tf.exp(tf.neg(tf.square(x))))),
    })],
    ["Sum", ["x"], false, (dy, [x], { axis }) => {
      const keep = x.shape.slice();
      const axes = axis == null ? x.shape.map((_, i) => i) : [axis as number | number[]].flat();
      for (const a of axes) keep[a < 0 ? a + x.rank : a] = 1;
      return { x: () => tf.mul(tf.reshape(dy, keep), tf.ones(x.shape)) };
    }],
    ["Reshape", ["x"], false, (dy, [x]) => ({ x: () => tf.reshape(dy, x.shape) })],
    ["Slice", ["x"], false, (dy, [x], { begin, size }) => {
      const b = begin as number[], n = size as number[];
      const pads = x.shape.map((d, i): [number, number] => [b[i], d - b[i] - n[i]]);
      return { x: () => tf.pad(dy, pads) };
    }],
    ["PadV2", ["x"], false, (dy, [x], { paddings }) => ({
      x: () => tf.slice(dy, (paddings as [number, number][]).map((p) => p[0]), x.shape),
    })],
    ["Conv2D", ["x", "filter"], false, (dy, [x, w], { strides, pad, dilations }) => {
      if ([dilations].flat().some((d) => d !== 1)) throw new Error("Conv2D grad: dilation");
      const s = strides as [number, number], p = pad as "same" | "valid";
      return {
        x: () => tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, x.shape as never, s, p),
        filter: () => filterGrad(x, dy, w.shape, s, p),
      };
    }],
    ["Conv2DBackpropInput", ["dy", "filter"], false, (ddx, [dy, w], { strides, pad }) => {
      const s = strides as [number, number], p = pad as "same" | "valid";
      return {
        dy: () => tf.conv2d(ddx as tf.Tensor4D, w as tf.Tensor4D, s, p),
        filter: () => filterGrad(ddx, dy, w.shape, s, p),
      };
    }],
  ];
  const filterGrad = (
    x: tf.Tensor,
    dy: tf.Tensor,
    filterShape: number[],
    strides: [number, number],
    pad: "same" | "valid",
  ): tf.Tensor =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides,
      pad,
      dataFormat: "NHWC",
      dimRoundingMode: undefined,
      filterShape,
    } as never) as tf.Tensor;
  for (const [kernelName, inputsToSave, saveOutput, gradFunc] of grads) {
    tf.registerGradient({
      kernelName,
      inputsToSave,
      outputsToSave: saveOutput ? [true] : undefined,
      gradFunc: (dy, saved, attrs) => gradFunc(dy as tf.Tensor, saved, attrs as unknown as Attrs),
    });
  }
}

/** [B, C, T] row-major → [B, T, C]. */
function toNwc(x: Float32Array, b: number, c: number, t: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < b; i++) {
    for (let ch = 0; ch < c; ch++) {
      const src = (i * c + ch) * t;
      for (let f = 0; f < t; f++) out[(i * t + f) * c + ch] = x[src + f];
    }
  }
  return out;
}

/** Random log-mel clips (values in [-8, -2)), a stand-in for a prepared corpus. */
function randomClips(nMels: number, count: number, frames: number): MelClip[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `random-${i}`,
    frames,
    mel: randomF32(frames * nMels, 100 + i).map((v) => v * 3 - 5),
  }));
}

type LayerKind = "same" | "down" | "up";

interface TfLayer {
  kind: LayerKind;
  w: tf.Variable;
  b: tf.Variable;
}

function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

function applyLayer(l: TfLayer, x: tf.Tensor3D): tf.Tensor3D {
  const [n, len] = x.shape;
  let y: tf.Tensor3D;
  if (l.kind === "same") y = tf.conv1d(x, l.w as tf.Tensor3D, 1, "same");
  else if (l.kind === "down") {
    y = tf.conv1d(tf.pad(x, [[0, 0], [1, 1], [0, 0]]), l.w as tf.Tensor3D, 2, "valid");
  } else {
    const w = l.w as tf.Tensor4D; // [1, K, Cout, Cin]
    const cout = w.shape[2];
    const x4 = tf.reshape(x, [n, 1, len, x.shape[2]]) as tf.Tensor4D;
    y = tf.reshape(tf.conv2dTranspose(x4, w, [n, 1, 2 * len, cout], [1, 2], "same"), [
      n,
      2 * len,
      cout,
    ]);
  }
  return tf.add(y, l.b);
}

function runStack(layers: TfLayer[], x: tf.Tensor3D): tf.Tensor3D {
  let h = x;
  layers.forEach((l, i) => {
    h = applyLayer(l, h);
    if (i < layers.length - 1) h = gelu(h) as tf.Tensor3D;
  });
  return h;
}

/** The VAE in tfjs (NWC), initialised from our model's weights. */
class TfVae {
  readonly encoder: TfLayer[] = [];
  readonly decoder: TfLayer[] = [];
  readonly logScale: tf.Variable;
  readonly vars: tf.Variable[] = [];
  readonly mean: tf.Tensor;
  readonly std: tf.Tensor;
  readonly optimizer: tf.AdamOptimizer;

  private constructor(
    readonly latent: number,
    readonly freeBits: number,
    readonly gradClip: number,
    lr: number,
    mean: Float32Array,
    std: Float32Array,
    logScale: number,
  ) {
    this.mean = tf.tensor3d(mean, [1, 1, mean.length]);
    this.std = tf.tensor3d(std, [1, 1, std.length]);
    this.logScale = this.#variable(tf.scalar(logScale), "log_scale");
    this.optimizer = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  }

  #variable(t: tf.Tensor, name: string): tf.Variable {
    const v = tf.variable(t, true, `train_step_bench/${name}`);
    t.dispose();
    this.vars.push(v);
    return v;
  }

  /** Copies our parameters (PyTorch layouts) into tfjs layouts. */
  static async from(model: MelVae, train: TrainConfig, mean: Float32Array, std: Float32Array) {
    const p = model.namedParameters();
    const cfg = model.config;
    const m = new TfVae(
      cfg.latentDim,
      train.freeBits,
      train.gradClip,
      train.lr,
      mean,
      std,
      await p.get("log_scale")!.item(),
    );
    const kinds = (stride: LayerKind): LayerKind[] => [
      "same",
      ...Array<LayerKind>(cfg.downsampleStages).fill(stride),
      "same",
    ];
    for (const [half, list] of [["encoder", m.encoder], ["decoder", m.decoder]] as const) {
      const ks = kinds(half === "encoder" ? "down" : "up");
      for (let i = 0; i < ks.length; i++) {
        const name = `${half}.layers.${2 * i}`;
        const w = p.get(`${name}.weight`)!, b = p.get(`${name}.bias`)!;
        const wd = await w.toArray(), [a0, a1, k] = w.shape;
        const w3 = tf.tensor3d(wd, [a0, a1, k]);
        // conv1d: [Cout, Cin, K] → [K, Cin, Cout]; transposed: [Cin, Cout, K] → [1, K, Cout, Cin].
        const wt = ks[i] === "up"
          ? tf.reshape(tf.transpose(w3, [2, 1, 0]), [1, k, a1, a0])
          : tf.transpose(w3, [2, 1, 0]);
        w3.dispose();
        list.push({
          kind: ks[i],
          w: m.#variable(wt, `${name}.weight`),
          b: m.#variable(tf.tensor1d(await b.toArray()), `${name}.bias`),
        });
      }
    }
    return m;
  }

  /** Loss terms of log-mel crops x [B, T, nMels] (NWC), as vae/elbo.ts with β = 1. */
  terms(logMel: tf.Tensor3D, sample: boolean) {
    const x = tf.div(tf.sub(logMel, this.mean), this.std) as tf.Tensor3D;
    const [batch, frames] = x.shape;
    const h = runStack(this.encoder, x);
    const steps = h.shape[1], l = this.latent;
    const mu = tf.slice(h, [0, 0, 0], [batch, steps, l]);
    const logvar = tf.slice(h, [0, 0, l], [batch, steps, l]);
    const z = sample
      ? tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), tf.randomNormal(mu.shape)))
      : mu;
    const xHat = runStack(this.decoder, z as tf.Tensor3D);
    const perFrame = 1 / (batch * frames);
    const zs = tf.mul(tf.sub(x, xHat), tf.exp(tf.neg(this.logScale)));
    const nll = tf.add(tf.add(tf.mul(tf.square(zs), 0.5), this.logScale), HALF_LOG_2PI);
    const recon = tf.mul(tf.sum(nll), perFrame);
    const klElems = tf.mul(
      tf.sub(tf.sub(tf.add(tf.square(mu), tf.exp(logvar)), logvar), 1),
      0.5,
    );
    const kl = tf.mul(tf.sum(klElems), perFrame);
    const klPerDim = tf.mul(tf.sum(klElems, [0, 1]), 1 / (batch * steps));
    const klPenalty = tf.mul(tf.sum(tf.maximum(klPerDim, this.freeBits)), steps / frames);
    const loss = tf.add(recon, klPenalty) as tf.Scalar;
    return { loss, recon, kl, xHat };
  }

  /**
   * Loss and clipped gradients: [loss, recon, kl, ‖g‖] and the gradients scaled by
   * min(1, clip / (‖g‖ + 1e-6)), as ag.clipGradNorm.
   */
  lossAndGrads(logMel: tf.Tensor3D, sample: boolean) {
    const kept: tf.Tensor[] = [];
    const out = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const t = this.terms(logMel, sample);
        kept.push(tf.keep(t.recon), tf.keep(t.kl)); // outlive variableGrads' scope
        return t.loss;
      }, this.vars);
      const gs = Object.values(grads);
      // Not tf.addN: on the WebGPU backend it returns 0 for 0-d inputs (tfjs 4.22.0).
      const norm = tf.sqrt(tf.sum(tf.stack(gs.map((g) => tf.sum(tf.square(g))))));
      const coef = tf.minimum(1, tf.div(this.gradClip, tf.add(norm, 1e-6)));
      const clipped: Record<string, tf.Tensor> = {};
      for (const [k, g] of Object.entries(grads)) clipped[k] = tf.mul(g, coef);
      return { packed: tf.stack([value, ...kept, norm]), grads: clipped };
    });
    tf.dispose(kept);
    return out;
  }

  /** One training step on log-mel crops [B, T, nMels]; returns [loss, recon, kl, ‖g‖]. */
  async trainStep(logMelNwc: Float32Array, shape: [number, number, number]) {
    const x = tf.tensor3d(logMelNwc, shape);
    const { packed, grads } = this.lossAndGrads(x, true);
    const v = await packed.data();
    if ([...v].every(Number.isFinite)) this.optimizer.applyGradients(grads as AdamGrads);
    tf.dispose([x, packed, grads]);
    return v;
  }
}

/**
 * The same model and step in PyTorch on the same 2-core CPU (TARGETS.md, which rounds it to
 * 55,000): a fixed figure, not run here.
 */
const PYTORCH_CPU_TWIN = {
  name: "PyTorch CPU twin (TARGETS.md, 2 threads; not run here)",
  throughput: 55264,
};

function trainStepCase(batch: number, crop: number): BenchCase {
  const cfg = DEFAULT_MODEL;
  const label = `VAE train step ${batch}×${crop} (C${cfg.channels}, z${cfg.latentDim})`;
  return peerCase({
    label,
    workPerOp: batch * crop,
    unit: "frames/s",
    scaled: false, // a whole step already keeps a GPU busy far longer than a queue wait
    references: [PYTORCH_CPU_TWIN],
    async setup() {
      registerGradients();
      const nMels = cfg.features.nMels;
      const train: TrainConfig = {
        ...DEFAULT_TRAIN,
        batch,
        cropFrames: crop,
        klWarmupSteps: 0, // β = 1 from the first step, on both sides
      };
      const clips = randomClips(nMels, 8, 4 * crop);
      const { mean, std } = normalizationStats(clips, nMels);
      const model = new MelVae(cfg, 1);
      model.setNormalization(mean, std);
      const peer = await TfVae.from(model, train, mean, std);

      // Agreement check with identical weights, z = μ: loss, gradient norm, reconstruction.
      const check = new CropSampler(clips, nMels, crop, batch, 7).next();
      const [ours, oursXHat] = await ag.tidy(async () => {
        const x = model.normalize(ag.tensor(check, [batch, nMels, crop]));
        const t = elboTerms(model, x, { beta: 1, freeBits: train.freeBits, sample: false });
        t.loss.backward();
        const norm = ag.clipGradNorm(model.parameters(), 1e30);
        const v = await ag.concat([t.loss, t.recon, t.kl, norm].map((s) => s.reshape([1])))
          .toArray();
        const xHat = await t.xHat.toArray();
        if (t.xHat.shape.join() !== `${batch},${nMels},${crop}`) {
          throw new Error(`${label}: our x̂ has shape ${t.xHat.shape}`);
        }
        return [v, xHat] as const;
      });
      model.zeroGrad();
      const tx = tf.tensor3d(toNwc(check, batch, nMels, crop), [batch, crop, nMels]);
      const { packed, grads } = peer.lossAndGrads(tx, false);
      const theirs = await packed.data();
      const tHat = tf.tidy(() => {
        const y = peer.terms(tx, false).xHat;
        if (y.shape.join() !== `${batch},${crop},${nMels}`) {
          throw new Error(`${label}: tfjs x̂ has shape ${y.shape}`);
        }
        return tf.transpose(y, [0, 2, 1]);
      });
      const hatErr = relError(oursXHat, await tHat.data());
      tf.dispose([tx, packed, grads, tHat]);
      const lossErr = Math.abs(ours[0] - theirs[0]) / Math.abs(theirs[0]);
      const normErr = Math.abs(ours[3] - theirs[3]) / Math.abs(theirs[3]);
      if (hatErr > 1e-4 || lossErr > 1e-4 || normErr > 1e-3) {
        throw new Error(
          `${label}: ours vs tfjs differ (x̂ rel ${hatErr}, loss ${ours[0]} vs ${theirs[0]}, ` +
            `grad norm ${ours[3]} vs ${theirs[3]})`,
        );
      }

      // One sampled training step each (warm-up); the losses should be of the same magnitude.
      const trainer = new VaeTrainer(model, train, new CropSampler(clips, nMels, crop, batch, 1));
      const peerSampler = new CropSampler(clips, nMels, crop, batch, 1);
      const peerStep = () =>
        peer.trainStep(toNwc(peerSampler.next(), batch, nMels, crop), [batch, crop, nMels]);
      const first = await trainer.trainStep();
      const tensorsBefore = tf.memory().numTensors;
      const theirFirst = await peerStep();
      await peerSync();
      const tensorsAfter = tf.memory().numTensors;
      // Adam's moments appear on the first update; a second step must add nothing.
      await peerStep();
      if (tf.memory().numTensors !== tensorsAfter) {
        throw new Error(
          `${label}: tfjs step leaks tensors (${tensorsAfter} → ${tf.memory().numTensors})`,
        );
      }
      await Promise.all([oursSync(), peerSync()]);
      const before = ag.counters();
      await trainer.recordStep();
      await oursSync();
      const after = ag.counters();
      console.log(
        `${label}: ours records ${after.dispatches - before.dispatches} dispatches and ` +
          `${after.readbacks - before.readbacks} readbacks per step`,
      );
      console.log(
        `${label}: z = μ with shared weights: loss ours ${ours[0].toFixed(4)} tfjs ` +
          `${theirs[0].toFixed(4)}, grad norm ${ours[3].toFixed(4)} / ${theirs[3].toFixed(4)}, ` +
          `x̂ rel err ${hatErr.toExponential(1)}; first sampled step loss ours ` +
          `${first.loss.toFixed(4)} tfjs ${theirFirst[0].toFixed(4)} (tfjs tensors ` +
          `${tensorsBefore} → ${tensorsAfter}: Adam moments)`,
      );

      return { ours: () => trainer.recordStep(), peer: peerStep };
    },
  });
}

/** The case, shared with bench/report.ts: the reference batch (16 crops of 128 frames). */
export const cases: BenchCase[] = [trainStepCase(16, 128)];

registerBenches(cases);
