/**
 * Real FFT of 1024-point frames: ours (`rfft`, on the GPU) against fft.js (`realTransform` per
 * frame, on the CPU) for 1024 frames, and against TensorFlow.js WebGPU (`tf.spectral.rfft`) for
 * 128 frames ×8 (the same 128 frames transformed 8 times a run, on both sides): tfjs's WebGPU FFT
 * takes about 3 ms a frame here. Each group compares the same work; `bench/report.ts` prints
 * frames/s.
 * @module
 */
import FFT from "fft.js";
import * as ag from "../engine/mod.ts";
import { checkAgreement, peerCase, randomF32, registerBenches, tf } from "./peer.ts";

const N = 1024;
const BINS = N / 2 + 1;

/** Our op on `frames` frames uploaded once; its output is checked against `ref` bins first. */
async function oursOp(data: Float32Array, frames: number, ref: Float32Array): Promise<() => void> {
  const x = ag.tensor(data, [frames, N]);
  const y = ag.rfft(x);
  checkAgreement(`rfft ${frames}×${N} (ours vs fft.js)`, await y.toArray(), ref, 1e-4);
  y.dispose();
  return () => ag.rfft(x).dispose();
}

/** fft.js on every frame of `data`; returns the op and its result as [frames, BINS, 2]. */
function fftjs(data: Float32Array, frames: number): [() => void, Float32Array] {
  const fft = new FFT(N);
  const input = Float64Array.from(data);
  const out = new Float64Array(frames * 2 * N);
  const run = () => {
    for (let f = 0; f < frames; f++) {
      fft.realTransform(
        out.subarray(f * 2 * N, (f + 1) * 2 * N),
        input.subarray(f * N, (f + 1) * N),
      );
    }
  };
  run();
  const bins = new Float32Array(frames * BINS * 2);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < 2 * BINS; i++) bins[f * BINS * 2 + i] = out[f * 2 * N + i];
  }
  return [run, bins];
}

const FRAMES = 1024;
const TFJS_FRAMES = 128;
/** The tfjs group repeats its 128 frames 8 times a run on both sides, so that our side measures
 * the kernel (1,024 frames' worth) rather than the ~10 ms queue wait. */
const TFJS_REPS = 8;

/** The cases, shared with bench/report.ts. */
export const cases = [
  peerCase({
    label: `rfft ${FRAMES}×${N}`,
    group: `rfft ${FRAMES}×${N} vs fft.js`,
    workPerOp: FRAMES,
    unit: "frames/s",
    peer: { name: "fft.js (CPU)", sync: () => Promise.resolve() },
    async setup() {
      const data = randomF32(FRAMES * N, 5);
      const [cpu, ref] = fftjs(data, FRAMES);
      return { ours: await oursOp(data, FRAMES, ref), peer: cpu };
    },
  }),
  peerCase({
    label: `rfft ${TFJS_FRAMES}×${N}`,
    group: `rfft ${TFJS_FRAMES}×${N} vs tfjs`,
    workPerOp: TFJS_FRAMES,
    unit: "frames/s",
    reps: TFJS_REPS,
    peer: { name: "tfjs-webgpu", n: 1, note: "slow: 1 run" },
    async setup() {
      const data = randomF32(TFJS_FRAMES * N, 6);
      const tx = tf.tensor2d(data, [TFJS_FRAMES, N]);
      const tX = tf.spectral.rfft(tx); // warm-up and check
      const tRe = tf.real(tX), tIm = tf.imag(tX);
      const [re, im] = [await tRe.data(), await tIm.data()];
      tf.dispose([tX, tRe, tIm]);
      const peerOut = new Float32Array(TFJS_FRAMES * BINS * 2);
      for (let i = 0; i < re.length; i++) [peerOut[2 * i], peerOut[2 * i + 1]] = [re[i], im[i]];
      const ref = fftjs(data, TFJS_FRAMES)[1];
      // tfjs sums each bin directly in f32, so it is checked more loosely.
      checkAgreement("rfft (tfjs vs fft.js)", peerOut, ref, 1e-3);
      return {
        ours: await oursOp(data, TFJS_FRAMES, ref),
        peer: () => tf.spectral.rfft(tx).dispose(),
      };
    },
  }),
];

registerBenches(cases);
