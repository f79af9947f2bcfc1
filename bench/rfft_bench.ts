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
import {
  type BenchCase,
  oursSync,
  peerSync,
  randomF32,
  registerBenches,
  relError,
  repeated,
  REPS_SCALE,
  repsSuffix,
  tf,
} from "./peer.ts";

const N = 1024;
const BINS = N / 2 + 1;

/** Ours and its GPU input for `frames` frames; the output is checked against `ref` bins. */
async function oursRun(
  data: Float32Array,
  frames: number,
  ref: Float32Array,
  reps = 1,
): Promise<() => Promise<void>> {
  const x = ag.tensor(data, [frames, N]);
  const y = ag.rfft(x);
  const err = relError(await y.toArray(), ref);
  y.dispose();
  if (err > 1e-4) throw new Error(`rfft ${frames}×${N}: ours vs reference differ (rel ${err})`);
  return repeated(() => ag.rfft(x).dispose(), oursSync, reps);
}

/** fft.js on every frame of `data`; returns the run and its result as [frames, BINS, 2]. */
function fftjs(data: Float32Array, frames: number): [() => Promise<void>, Float32Array] {
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
    return Promise.resolve();
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
export const cases: BenchCase[] = [
  {
    group: `rfft ${FRAMES}×${N} vs fft.js`,
    label: `rfft ${FRAMES}×${N}${repsSuffix()}`,
    work: FRAMES * REPS_SCALE,
    unit: "frames/s",
    contestants: [{ name: "ours" }, { name: "fft.js (CPU)" }],
    async setup() {
      const data = randomF32(FRAMES * N, 5);
      const [cpu, ref] = fftjs(data, FRAMES);
      return [await oursRun(data, FRAMES, ref), repeated(cpu, () => Promise.resolve())];
    },
  },
  {
    group: `rfft ${TFJS_FRAMES}×${N} vs tfjs`,
    label: `rfft ${TFJS_FRAMES}×${N}${repsSuffix(TFJS_REPS)}`,
    work: TFJS_FRAMES * TFJS_REPS * REPS_SCALE,
    unit: "frames/s",
    contestants: [{ name: "ours" }, { name: "tfjs-webgpu", n: 1, note: "slow: 1 run" }],
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
      const peerErr = relError(peerOut, ref);
      if (peerErr > 1e-3) throw new Error(`rfft: tfjs vs fft.js differ (rel ${peerErr})`);
      const ours = await oursRun(data, TFJS_FRAMES, ref, TFJS_REPS);
      const peer = repeated(() => tf.spectral.rfft(tx).dispose(), peerSync, TFJS_REPS);
      return [ours, peer];
    },
  },
];

registerBenches(cases);
