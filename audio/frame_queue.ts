/**
 * A queue of time-major frames (`width` values each; width 1 for samples) addressed by absolute
 * frame index, for the streaming stages of long audio (features, model, vocoder): input arrives
 * in pieces of any size, a stage reads the window it needs with its context, and drops what no
 * later window needs, so memory holds a window or two, not the stream. Portable.
 *
 * @example
 * ```ts
 * import { FrameQueue } from "./frame_queue.ts";
 * const q = new FrameQueue(2);
 * q.push(new Float32Array([0, 1, 2, 3, 4, 5])); // frames 0..2
 * q.read(1, 3); // Float32Array [2, 3, 4, 5]
 * q.drop(2);
 * console.log(q.start, q.end); // 2 3
 * ```
 * @module
 */
export class FrameQueue {
  #data: Float32Array;
  /** Absolute index of the first frame held. */
  #start = 0;
  /** Frames held. */
  #count = 0;

  constructor(readonly width: number, capacityFrames = 1024) {
    if (!Number.isInteger(width) || width < 1) throw new Error(`FrameQueue: width ${width}`);
    this.#data = new Float32Array(Math.max(1, capacityFrames) * width);
  }

  /** Absolute index of the first frame still held. */
  get start(): number {
    return this.#start;
  }

  /** Absolute index one past the last frame pushed (frames pushed in all). */
  get end(): number {
    return this.#start + this.#count;
  }

  /** Appends frames (a whole number of `width` values). */
  push(frames: Float32Array): void {
    if (frames.length % this.width !== 0) {
      throw new Error(`FrameQueue.push: ${frames.length} values are not frames of ${this.width}`);
    }
    const used = this.#count * this.width;
    if (used + frames.length > this.#data.length) {
      const grown = new Float32Array(Math.max(2 * this.#data.length, used + frames.length));
      grown.set(this.#data.subarray(0, used));
      this.#data = grown;
    }
    this.#data.set(frames, used);
    this.#count += frames.length / this.width;
  }

  /** A copy of frames [from, to), all of which must still be held. */
  read(from: number, to: number): Float32Array {
    if (from < this.#start || to > this.end || from > to) {
      throw new Error(
        `FrameQueue.read: frames ${from}..${to} are not within ${this.#start}..${this.end}`,
      );
    }
    const w = this.width;
    return this.#data.slice((from - this.#start) * w, (to - this.#start) * w);
  }

  /** Forgets the frames before `frame` (no later read may ask for them). */
  drop(frame: number): void {
    const n = Math.min(Math.max(0, frame - this.#start), this.#count);
    if (n === 0) return;
    const w = this.width;
    this.#data.copyWithin(0, n * w, this.#count * w);
    this.#start += n;
    this.#count -= n;
  }
}
