/**
 * Test helper: the kernels an engine call dispatches, by name, with the override constants their
 * pipelines were built with — to check that a kernel choice made on the runtime reaches the
 * kernel. It wraps `rt().dispatch` for the duration of the call only.
 * @module
 */
import * as ag from "../../mod.ts";

/** One recorded dispatch. */
export interface DispatchRecord {
  kernel: string;
  constants: Record<string, number>;
}

/** Runs `fn` and returns its result with the dispatches it recorded. */
export async function dispatchesOf<T>(
  fn: () => T | Promise<T>,
): Promise<{ result: T; dispatches: DispatchRecord[] }> {
  const runtime = ag.rt();
  const dispatches: DispatchRecord[] = [];
  const original = runtime.dispatch;
  runtime.dispatch = function (kernel, buffers, params, workgroups, constants = {}) {
    dispatches.push({ kernel: kernel.name, constants: { ...constants } });
    return original.call(this, kernel, buffers, params, workgroups, constants);
  };
  try {
    return { result: await fn(), dispatches };
  } finally {
    runtime.dispatch = original;
  }
}
