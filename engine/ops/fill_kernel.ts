/**
 * Fills a raw GPU buffer with a constant (used by `zeros`/`ones`/`full` and for poisoning op
 * outputs in tests). Kernel: shaders/fill.wgsl.
 * @module
 */
import source from "../../shaders/fill.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";

const fillKernel = new Kernel("fill", source);

/** Records a dispatch that writes `value` into the first `n` f32 elements of `buffer`. */
export function fillBuffer(buffer: GPUBuffer, n: number, value: number): void {
  rt().dispatch(fillKernel, { out: buffer }, { n, value }, grid1d(n, 256));
}
