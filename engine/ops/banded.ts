/**
 * Products with a banded sparse matrix ({@link BandedMatrix}): y = x · Aᵀ where row n of A is
 * nonzero only on one run of columns [start, end). Only the stored runs are multiplied, so a
 * matrix with a few nonzeros per row (a mel filterbank: each band spans a few FFT bins) costs a
 * few multiply-adds per output instead of a dense matmul's n_in. Kernel:
 * shaders/banded_matmul.wgsl; the gradient is the same kernel with Aᵀ, whose band structure is
 * built once on the CPU.
 * @module
 */
import source from "../../shaders/banded_matmul.wgsl" with { type: "text" };
import { Kernel } from "../kernel.ts";
import { grid1d, rt } from "../runtime.ts";
import { record, Tensor } from "../tensor.ts";

const kernel = new Kernel("banded_matmul", source, "main");

/** One orientation on the GPU: [start, end, offset] per row, and the packed values. */
interface Band {
  rows: number;
  cols: number;
  band: GPUBuffer;
  values: GPUBuffer;
}

function uploadBand(dense: ArrayLike<number>, rows: number, cols: number): Band {
  const meta = new Uint32Array(rows * 3);
  const packed: number[] = [];
  for (let n = 0; n < rows; n++) {
    let start = cols, end = 0;
    for (let k = 0; k < cols; k++) {
      if (dense[n * cols + k] !== 0) {
        start = Math.min(start, k);
        end = k + 1;
      }
    }
    if (end === 0) start = 0;
    meta.set([start, end, packed.length], 3 * n);
    for (let k = start; k < end; k++) packed.push(dense[n * cols + k]);
  }
  const values = Float32Array.from(packed.length ? packed : [0]);
  const band = rt().allocate(Math.max(4, meta.byteLength));
  rt().upload(band, meta);
  const vals = rt().allocate(values.byteLength);
  rt().upload(vals, values);
  return { rows, cols, band, values: vals };
}

/**
 * A constant matrix A [rows, cols] stored as one run of columns per row (zeros inside a run are
 * stored; everything outside it must be zero), with its transpose stored the same way for the
 * gradient. Lives on the GPU: call `dispose()` when done.
 *
 * @example
 * ```ts
 * import * as ag from "../mod.ts";
 * await ag.init();
 * // [[1, 2, 0, 0], [0, 0, 3, 0]]
 * const a = ag.BandedMatrix.fromDense([1, 2, 0, 0, 0, 0, 3, 0], 2, 4);
 * const y = ag.bandedMatmul(ag.tensor([1, 1, 1, 1], [1, 4]), a); // [[3, 3]]
 * console.log(await y.toArray());
 * a.dispose();
 * ```
 */
export class BandedMatrix {
  readonly #forward: Band;
  readonly #transpose: Band;
  #disposed = false;

  private constructor(readonly rows: number, readonly cols: number, dense: ArrayLike<number>) {
    this.#forward = uploadBand(dense, rows, cols);
    const t = new Float64Array(rows * cols);
    for (let n = 0; n < rows; n++) {
      for (let k = 0; k < cols; k++) t[k * rows + n] = dense[n * cols + k];
    }
    this.#transpose = uploadBand(t, cols, rows);
  }

  /** Builds the band from a dense row-major [rows, cols] matrix (rounded to f32). */
  static fromDense(dense: ArrayLike<number>, rows: number, cols: number): BandedMatrix {
    if (dense.length !== rows * cols) {
      throw new Error(`BandedMatrix: ${dense.length} values are not [${rows}, ${cols}]`);
    }
    return new BandedMatrix(rows, cols, dense);
  }

  /** The GPU form of A (`transposed`: Aᵀ). */
  band(transposed: boolean): Band {
    if (this.#disposed) throw new Error("BandedMatrix used after dispose()");
    return transposed ? this.#transpose : this.#forward;
  }

  /** Frees the GPU buffers. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const b of [this.#forward, this.#transpose]) {
      rt().release(b.band);
      rt().release(b.values);
    }
  }
}

function bandedRaw(x: Tensor, b: Band): Tensor {
  const out = Tensor.empty([...x.shape.slice(0, -1), b.rows]);
  const rows = x.size / b.cols;
  if (out.size === 0) return out;
  rt().dispatch(
    kernel,
    { x: x.buffer, band: b.band, values: b.values, y: out.buffer },
    { rows, n_in: b.cols, n_out: b.rows },
    grid1d(out.size, 64),
  );
  return out;
}

/**
 * x [..., cols] · Aᵀ → [..., rows] for a {@link BandedMatrix} A [rows, cols]; equal to
 * `x.matmul(Aᵀ)` with A dense. Differentiable in x (the gradient is g · A, the same kernel
 * with the stored transpose); A is a constant.
 */
export function bandedMatmul(x: Tensor, a: BandedMatrix): Tensor {
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== a.cols) {
    throw new Error(`bandedMatmul: input [${x.shape}] does not end in ${a.cols}`);
  }
  const out = bandedRaw(x, a.band(false));
  return record(out, "bandedMatmul", [x], (g) => [bandedRaw(g, a.band(true))]);
}
