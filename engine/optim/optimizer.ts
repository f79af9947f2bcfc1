/**
 * What every optimizer shares: the parameters it updates, by name (names key its saved state,
 * so a checkpoint's optimizer state finds its parameters again), and `zeroGrad`.
 * @module
 */
import type { Tensor } from "../tensor.ts";

/** Parameters to optimise: a name → tensor map (e.g. `model.namedParameters()`) or a list. */
export type ParamsInput = Map<string, Tensor> | Iterable<Tensor>;

/** The parameters by name; a plain list gets the names "0", "1", …. */
export function namedParams(params: ParamsInput): Map<string, Tensor> {
  if (params instanceof Map) return new Map(params);
  const out = new Map<string, Tensor>();
  for (const t of params) out.set(String(out.size), t);
  return out;
}

/** Disposes and clears the gradient of every tensor in `params`. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
