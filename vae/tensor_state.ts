/**
 * Model and optimizer state as named host tensors, for checkpoints of any model: many GPU
 * tensors read back with one copy, an Adam optimizer's moments as `PREFIX.NAME.exp_avg` /
 * `PREFIX.NAME.exp_avg_sq` tensors plus a small JSON-able record of its hyperparameters and step
 * counts, and both restored from what a `.safetensors` file gave back. Portable (no Deno APIs).
 * @module
 */
import * as ag from "../engine/mod.ts";
import { ConfigError } from "./config.ts";
import type { HostTensor } from "./safetensors.ts";

/** An Adam optimizer's hyperparameters and per-parameter step counts (its moments are tensors). */
export interface OptimizerRecord {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  steps: Record<string, number>;
}

/** Reads many tensors back with one GPU→CPU copy (a checkpoint holds dozens of them). */
export async function readTensors(named: [string, ag.Tensor][]): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  const live = named.filter(([, t]) => t.size > 0);
  for (const [name, t] of named) {
    if (t.size === 0) out.set(name, { shape: [...t.shape], data: new Float32Array(0) });
  }
  if (live.length === 0) return out;
  const flat = await ag.tidy(() =>
    ag.noGrad(() => ag.concat(live.map(([, t]) => t.reshape([t.size])))).toArray()
  );
  let at = 0;
  for (const [name, t] of live) {
    out.set(name, { shape: [...t.shape], data: flat.slice(at, at + t.size) });
    at += t.size;
  }
  return out;
}

/** The tensors (`PREFIX.NAME.exp_avg`, `…exp_avg_sq`) and record of an optimizer's state. */
export function optimizerTensors(
  optimizer: ag.Adam,
  prefix: string,
): { tensors: [string, ag.Tensor][]; record: OptimizerRecord } {
  const s = optimizer.state();
  const steps: Record<string, number> = {};
  const tensors: [string, ag.Tensor][] = [];
  for (const [name, p] of s.params) {
    steps[name] = p.step;
    tensors.push([`${prefix}.${name}.exp_avg`, p.expAvg], [
      `${prefix}.${name}.exp_avg_sq`,
      p.expAvgSq,
    ]);
  }
  const { lr, betas, eps, weightDecay } = s;
  return { tensors, record: { lr, betas, eps, weightDecay, steps } };
}

/**
 * Restores an optimizer from its record and the tensors saved under `prefix`; `source` names
 * the file in errors (a missing moment is named).
 */
export function restoreOptimizer(
  optimizer: ag.Adam,
  record: OptimizerRecord,
  tensors: Map<string, HostTensor>,
  prefix: string,
  source: string,
): void {
  ag.tidy(() => {
    const params = new Map<string, ag.AdamParamState>();
    for (const [name, step] of Object.entries(record.steps)) {
      const m = tensors.get(`${prefix}.${name}.exp_avg`);
      const v = tensors.get(`${prefix}.${name}.exp_avg_sq`);
      if (!m || !v) throw new ConfigError(`${source}: optimizer moments of ${name} are missing`);
      params.set(name, {
        step,
        expAvg: ag.tensor(m.data, m.shape),
        expAvgSq: ag.tensor(v.data, v.shape),
      });
    }
    const { lr, betas, eps, weightDecay } = record;
    try {
      optimizer.loadState({ lr, betas, eps, weightDecay, params });
    } catch (e) {
      throw new ConfigError(`${source}: ${(e as Error).message}`);
    }
  });
}

/**
 * Copies the tensors saved under `prefix.` into a module (names and shapes checked by
 * `loadStateDict`, which changes nothing on a mismatch); errors name `source`.
 */
export function loadModuleTensors(
  module: ag.Module,
  tensors: Map<string, HostTensor>,
  prefix: string,
  source: string,
): void {
  ag.tidy(() => {
    const state = new Map<string, ag.Tensor>();
    for (const [name, t] of tensors) {
      if (name.startsWith(`${prefix}.`)) {
        state.set(name.slice(prefix.length + 1), ag.tensor(t.data, t.shape));
      }
    }
    try {
      module.loadStateDict(state);
    } catch (e) {
      throw new ConfigError(`${source}: ${(e as Error).message}`);
    }
  });
}
