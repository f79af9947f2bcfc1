/**
 * `FiniteStepGate`: the "skip a step whose loss or gradient is not finite" rule of a training
 * loop, decided on the GPU so that a step needs no readback. Each step's scalars (loss, its
 * terms, the gradient norm) go to one single-invocation kernel (shaders/finite_gate.wgsl) that
 * writes a gate for `Adam.step({ gate })` — 1 when they are all finite, else 0 — and keeps a
 * ledger: sums over the applied steps, the last step's values, counts of applied and skipped
 * steps, and the run of non-finite steps in a row, which after `maxInARow` stops the run (every
 * later step gated off, so the weights stay as they were at that step). {@link FiniteStepGate.read}
 * reads the ledger back when the caller wants numbers (a log line, a checkpoint), one readback for
 * any number of steps.
 * @module
 */
import source from "../../shaders/finite_gate.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { rt } from "../runtime.ts";
import { Tensor } from "../tensor.ts";

const recordKernel = new Kernel("finite_gate_record", source, "record");
const resetKernel = new Kernel("finite_gate_reset", source, "reset");

/** Scalars one step may pass. */
const MAX_VALUES = 4;
/** f32 slots of the ledger (shaders/finite_gate.wgsl). */
const LEDGER_SLOTS = 13;

/** What the steps since the previous {@link FiniteStepGate.read} did. */
export interface GateReport {
  /** Steps recorded. */
  steps: number;
  /** Steps whose scalars were all finite: their updates were applied. */
  applied: number;
  /** Steps skipped for a non-finite scalar (not counting steps after a stop). */
  skipped: number;
  /** Per scalar, the mean over the applied steps (NaN when none was applied). */
  means: number[];
  /** The last step's scalars, finite or not. */
  last: number[];
  /** Non-finite steps in a row at the end (carried over to the next read). */
  inARow: number;
  /**
   * The step (1-based among these `steps`) at which `maxInARow` non-finite steps in a row were
   * reached, or null; the steps after it were gated off and are in neither count.
   */
  stoppedAt: number | null;
}

/** See the module comment. */
export class FiniteStepGate {
  readonly #ledger: Tensor;
  readonly #gate: Tensor;

  /** `maxInARow`: non-finite steps in a row that stop the run (≥ 1). */
  constructor(readonly valueCount: number, readonly maxInARow: number) {
    if (!Number.isInteger(valueCount) || valueCount < 1 || valueCount > MAX_VALUES) {
      throw new Error(`FiniteStepGate: ${valueCount} values per step; 1 to ${MAX_VALUES} fit`);
    }
    if (!Number.isInteger(maxInARow) || maxInARow < 1) {
      throw new Error(`FiniteStepGate: maxInARow ${maxInARow} must be a positive integer`);
    }
    this.#ledger = Tensor.fromArray(new Float32Array(LEDGER_SLOTS), [LEDGER_SLOTS]).keep();
    this.#gate = Tensor.fromArray([0], [1]).keep();
  }

  /**
   * Records one step's scalars (one-element tensors, `valueCount` of them) and returns the gate
   * for that step's update: a one-element tensor, 1 or 0, owned by this gate (valid until the
   * next `record`).
   */
  record(values: Tensor[]): Tensor {
    if (values.length !== this.valueCount || values.some((v) => v.size !== 1)) {
      throw new Error(
        `FiniteStepGate.record: expected ${this.valueCount} one-element tensors, got ` +
          `[${values.map((v) => `[${v.shape}]`).join(", ")}]`,
      );
    }
    const buffers = values.map((v) => v.buffer);
    rt().dispatch(
      recordKernel,
      {
        v0: buffers[0],
        v1: buffers[1] ?? buffers[0],
        v2: buffers[2] ?? buffers[0],
        v3: buffers[3] ?? buffers[0],
        ledger: this.#ledger.buffer,
        gate: this.#gate.buffer,
      },
      { count: this.valueCount, max_in_a_row: this.maxInARow },
      [1],
    );
    return this.#gate;
  }

  /** Reads the ledger back (one readback) and starts the next interval. */
  async read(): Promise<GateReport> {
    // The copy for the readback is recorded first, the reset right after it, before any later
    // step: those count towards the next read.
    const reading = rt().readBuffer(this.#ledger.buffer, LEDGER_SLOTS * 4);
    rt().dispatch(resetKernel, { ledger: this.#ledger.buffer }, {}, [1]);
    const l = new Float32Array(await reading);
    const n = this.valueCount;
    const applied = l[9];
    return {
      steps: l[8],
      applied,
      skipped: l[10],
      means: [...l.subarray(0, n)].map((s) => (applied > 0 ? s / applied : NaN)),
      last: [...l.subarray(4, 4 + n)],
      inARow: l[11],
      stoppedAt: l[12] === 0 ? null : l[12],
    };
  }

  /** Frees the gate's buffers. */
  dispose(): void {
    this.#ledger.dispose();
    this.#gate.dispose();
  }
}
