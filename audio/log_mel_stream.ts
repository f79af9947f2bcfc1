/**
 * Log-mel features of a signal of any length, a chunk of frames at a time: the samples arrive
 * in pieces; each chunk of frames is framed from the centred signal with its STFT context
 * (nFft/2 samples either side of each frame's centre, the signal's reflect padding at its two
 * ends), so the frames equal those of the whole signal analysed at once ({@link LogMel} with
 * `center`) while the GPU holds one chunk. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { FrameQueue } from "./frame_queue.ts";
import { type LogMel, minCenteredSamples } from "./features.ts";

/** Frames per chunk by default (about 33 s at hop 256): a few MB of GPU buffers. */
export const DEFAULT_CHUNK_FRAMES = 2048;

/**
 * Log-mel frames [frames, nMels] (time-major) of the signal whose samples `samples` yields,
 * `chunkFrames` frames at a time (the last chunk shorter): 1 + ⌊N / hop⌋ frames in all for N
 * samples, equal to `logMel.logMelFrames` of the whole signal.
 * @throws {Error} when the signal has too few samples for a centred STFT (nFft/2 or fewer)
 */
export async function* streamLogMel(
  logMel: LogMel,
  samples: AsyncIterable<Float32Array> | Iterable<Float32Array>,
  chunkFrames = DEFAULT_CHUNK_FRAMES,
): AsyncGenerator<Float32Array> {
  const { nFft, hop } = logMel.config;
  const half = Math.floor(nFft / 2);
  const chunk = Math.max(1, Math.floor(chunkFrames));
  const queue = new FrameQueue(1, (chunk + 1) * hop + 2 * nFft);
  // Frames [f0, f1) of the centred signal of `total` samples (Infinity while it streams):
  // sample p of the padded signal is x[p − half], reflected about x[0] and x[total − 1].
  const frames = async (f0: number, f1: number, total: number) => {
    const first = f0 * hop - half, last = (f1 - 1) * hop + nFft - half; // x indices [first, last)
    const lo = Math.max(first, 0), hi = Math.min(last, total);
    const inner = queue.read(lo, hi);
    let padded = inner;
    if (lo !== first || hi !== last) {
      padded = new Float32Array(last - first);
      padded.set(inner, lo - first);
      const at = (i: number) => queue.read(i, i + 1)[0];
      for (let i = first; i < lo; i++) padded[i - first] = at(-i);
      for (let i = hi; i < last; i++) padded[i - first] = at(2 * (total - 1) - i);
    }
    return await ag.tidy(() =>
      ag.noGrad(() => logMel.logMelFrames(ag.tensor(padded, [1, padded.length]), false))
        .toArray()
    );
  };
  let f0 = 0;
  for await (const piece of samples) {
    queue.push(piece);
    // Frames [f0, f0 + chunk) are final once the samples under their last window have arrived
    // (and, for the first chunk, those its reflect padding mirrors).
    while (queue.end >= (f0 + chunk - 1) * hop + nFft - half && queue.end > half) {
      yield await frames(f0, f0 + chunk, Infinity);
      f0 += chunk;
      // Keep an nFft of margin: the end's reflect padding mirrors samples before the last frame.
      queue.drop(f0 * hop - half - nFft);
    }
  }
  const total = queue.end;
  if (total < minCenteredSamples(nFft)) {
    throw new Error(
      `log-mel: ${total} samples are too few for a centred STFT of nFft ${nFft} ` +
        `(more than ${half} are needed)`,
    );
  }
  const count = 1 + Math.floor(total / hop);
  for (; f0 < count; f0 += chunk) yield await frames(f0, Math.min(count, f0 + chunk), total);
}
