/**
 * Test helper: registers a test once per FFT kernel variant (engine/ops/fft.ts: "workgroup",
 * shaders/fft.wgsl, and "frame", shaders/fft_frame.wgsl), so that both pass the same checks
 * whichever one the adapter picks by default.
 * @module
 */
import * as ag from "../../mod.ts";
import { setup } from "../util.ts";

/** Registers `fn` as `name [workgroup]` and `name [frame]`, each with its variant chosen. */
export function fftVariantTest(name: string, fn: () => Promise<void>): void {
  for (const v of ["workgroup", "frame"] as const) {
    Deno.test(`${name} [${v}]`, async () => {
      await setup();
      await ag.rt().withKernelChoices({ fftVariant: v }, fn);
    });
  }
}
