/**
 * The edge between the command line and the engine's device options: the engine itself never
 * touches `Deno.*`, so flags and environment variables are read here and passed in.
 *
 * - `--no-gpu` or `AUDIO_GEN_NO_GPU=1` pretends no WebGPU adapter exists (tests the error path).
 * - `AUDIO_GEN_AUTOTUNE=1` times kernel tile configurations for the shapes a command meets and
 *   keeps the fastest per adapter under out/tune/ (commands call `tunePending()` after a step).
 * @module
 */
import { type DeviceOptions, init, NoAdapterError } from "../engine/mod.ts";
import type { Runtime } from "../engine/runtime.ts";
import { autotuneFromEnv } from "./tune_store.ts";

/** Exit code of a CLI when no WebGPU adapter can be had. */
export const EXIT_NO_ADAPTER = 3;

/** Device options from `AUDIO_GEN_NO_GPU=1` (needs --allow-env) or a `--no-gpu` argument. */
export function deviceOptionsFromEnv(args: readonly string[] = Deno.args): DeviceOptions {
  let env: string | undefined;
  try {
    env = Deno.env.get("AUDIO_GEN_NO_GPU");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied)) {
      throw e;
    }
  }
  const forceNoAdapter = args.includes("--no-gpu") || (env !== undefined && env !== "" &&
    env !== "0");
  return { forceNoAdapter };
}

/**
 * Initialises the engine with options from the environment and `args`. Without an adapter it
 * prints the {@link NoAdapterError}'s message (what to install) to stderr and exits with
 * {@link EXIT_NO_ADAPTER}; any other error propagates.
 */
export async function initOrExit(args: readonly string[] = Deno.args): Promise<Runtime> {
  try {
    const runtime = await init(deviceOptionsFromEnv(args));
    await autotuneFromEnv();
    return runtime;
  } catch (e) {
    if (!(e instanceof NoAdapterError)) throw e;
    console.error(e.message);
    Deno.exit(EXIT_NO_ADAPTER);
  }
}
