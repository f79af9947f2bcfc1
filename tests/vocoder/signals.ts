/**
 * A speech-like test signal for the vocoder's tests and bench: a gliding tone, amplitude-modulated
 * at a syllable-like rate, over faint noise (so no STFT bin is silent), from a seed.
 * @module
 */
import { randomArray } from "../util.ts";

/** `n` samples of the signal (peak about 0.43). */
export function speechLike(n: number, seed: number): Float32Array {
  const noise = randomArray(n, seed);
  return Float32Array.from(
    noise,
    (v, i) => 0.4 * Math.sin(0.05 * i + 3e-6 * i * i) * Math.sin(i / 900) + 0.03 * v,
  );
}
