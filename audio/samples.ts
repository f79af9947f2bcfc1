/**
 * Helpers on arrays of audio samples (mono Float32Array in [-1, 1)): joining blocks and
 * converting 16-bit PCM. Portable: typed arrays only.
 * @module
 */

/**
 * The sample blocks one after another in one array (the one block itself when there is one).
 *
 * @example
 * ```ts
 * import { concatSamples } from "./samples.ts";
 * concatSamples([new Float32Array([1, 2]), new Float32Array([3])]); // Float32Array [1, 2, 3]
 * ```
 */
export function concatSamples(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The first `n` signed 16-bit samples as floats in [-1, 1) (÷ 32768, libsndfile's convention). */
export function s16ToFloat(src: Int16Array, n = src.length): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i] / 32768;
  return out;
}
