/**
 * audio-gen: a voice VAE on a from-scratch WebGPU tensor engine.
 *
 * `await init()` once, then use tensors, ops and layers. See README.md.
 * @module
 */
export * from "./engine/mod.ts";
