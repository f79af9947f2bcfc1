/**
 * The GPU runtime: records kernel dispatches into one shared command encoder, submits them in
 * batches, uploads and reads back data, pools buffers, and turns GPU errors and device loss into
 * thrown errors that name the kernels involved.
 *
 * `await init()` once before using tensors; after that every op records synchronously and only
 * {@link readBuffer} (used by `Tensor.toArray()`) waits for the GPU.
 * @module
 */
import type { AutotuneState, TileConfig } from "./autotune.ts";
import { BufferPool, type PoolCounters } from "./buffer_pool.ts";
import { configureDevice, type DeviceOptions, getDevice } from "./device.ts";
import type { Kernel, ParamValues } from "./kernel.ts";
import type { FftVariant } from "./ops/fft.ts";
import type { MatmulVariant, TiledConfig } from "./ops/matmul.ts";

/** Counters for tests and progress displays. */
export interface RuntimeCounters extends PoolCounters {
  submits: number;
  dispatches: number;
  uploads: number;
  readbacks: number;
}

/**
 * Kernel variants and tile configs that ops take from the runtime rather than choose alone;
 * null leaves the choice to the op (by adapter, by shape, or tuned). Tests set them to run every
 * variant, through {@link Runtime.withKernelChoices}.
 */
export interface KernelChoices {
  /** The matmul kernel (engine/ops/matmul.ts); null: "registers" on CPU adapters, else "workgroup". */
  matmulVariant: MatmulVariant | null;
  /** Tile config of the register-blocked matmul; null: tuned, else its default. */
  matmulTile: TileConfig | null;
  /** Block of the workgroup-tiled matmul; null: chosen by shape. */
  matmulBlock: TiledConfig | null;
  /** Tile config of the convolution kernel (engine/ops/conv.ts); null: tuned, else its default. */
  convTile: TileConfig | null;
  /** The FFT kernels (engine/ops/fft.ts); null: "workgroup" (the "frame" kernels are opt-in). */
  fftVariant: FftVariant | null;
}

/**
 * A tensor larger than the adapter lets a kernel bind (`maxStorageBufferBindingSize`), refused
 * where buffers are allocated rather than as a validation error deep in a kernel. Commands keep
 * their tensors far below every adapter's limit by processing long audio in chunks; this says
 * which size met which limit when something does not.
 */
export class BufferLimitError extends Error {
  constructor(readonly bytes: number, readonly limit: number) {
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    super(
      `a tensor of ${mb(bytes)} is larger than this GPU adapter can bind to a kernel ` +
        `(maxStorageBufferBindingSize ${mb(limit)}); process the input in smaller chunks`,
    );
    this.name = "BufferLimitError";
  }
}

/** A GPU error (validation, out of memory, internal, device lost) with the kernels involved. */
export class GpuError extends Error {
  constructor(message: string, readonly kernels: string[]) {
    super(`${message} (kernels in the failing batch: ${kernels.join(", ") || "none"})`);
    this.name = "GpuError";
  }
}

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;
const PARAMS_SLOT = 256; // minUniformBufferOffsetAlignment on every adapter we target
const PARAMS_RING_BYTES = 1 << 20;
/** Dispatches recorded before an automatic submit, so the GPU starts while the CPU records. */
const DISPATCHES_PER_SUBMIT = 128;
/** Bytes of the stand-in bound for a binding given as null (one vec4, the widest element). */
const STAND_IN_BYTES = 16;

/** The runtime's state; one per process (or page). */
export class Runtime {
  readonly storage: BufferPool;
  readonly staging: BufferPool;
  /**
   * The largest storage buffer a kernel may bind (the device's `maxStorageBufferBindingSize`):
   * the one place the engine checks it ({@link allocate}).
   */
  readonly maxBindingBytes: number;
  readonly counters = { submits: 0, dispatches: 0, uploads: 0, readbacks: 0 };
  /**
   * Fill every op output with NaN before the op writes it, so that an element a kernel forgets
   * to write shows up (tests turn this on).
   */
  poisonOutputs = false;
  /** The kernel choices ops read; see {@link KernelChoices}. */
  readonly kernelChoices: KernelChoices = {
    matmulVariant: null,
    matmulTile: null,
    matmulBlock: null,
    convTile: null,
    fftVariant: null,
  };
  /** The autotuner's choices and noted shape classes (engine/autotune.ts works on them). */
  readonly autotune: AutotuneState = {
    enabled: false,
    store: null,
    choices: new Map(),
    pending: new Map(),
  };
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #batchKernels: string[] = [];
  #pendingError: GpuError | null = null;
  readonly #paramsRing: GPUBuffer;
  readonly #paramsStaging = new ArrayBuffer(PARAMS_RING_BYTES);
  #paramsOffset = 0;
  #paramsDirtyFrom = 0;

  constructor(readonly device: GPUDevice) {
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.storage = new BufferPool(device, STORAGE_USAGE, "tensor", this.maxBindingBytes);
    this.staging = new BufferPool(
      device,
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      "readback",
    );
    this.#paramsRing = device.createBuffer({
      size: PARAMS_RING_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "params-ring",
    });
    device.addEventListener("uncapturederror", (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.#pendingError ??= new GpuError(`GPU error: ${e.message}`, [...this.#batchKernels]);
    });
    device.lost.then((info) => {
      this.#pendingError ??= new GpuError(
        `GPU device lost (${info.reason}): ${info.message}`,
        [...this.#batchKernels],
      );
    });
  }

  /**
   * Runs `fn` with some kernel choices set and restores the previous ones afterwards, also when
   * it throws.
   *
   * @example
   * ```ts
   * import * as ag from "../mod.ts";
   * await ag.init();
   * const y = await ag.rt().withKernelChoices({ matmulVariant: "workgroup" }, () =>
   *   ag.ones([3, 4]).matmul(ag.ones([4, 2])).toArray());
   * ```
   */
  async withKernelChoices<T>(
    choices: Partial<KernelChoices>,
    fn: () => T | Promise<T>,
  ): Promise<T> {
    const saved = { ...this.kernelChoices };
    Object.assign(this.kernelChoices, choices);
    try {
      return await fn();
    } finally {
      Object.assign(this.kernelChoices, saved);
    }
  }

  /** Counters of buffers, submits and dispatches. */
  snapshot(): RuntimeCounters {
    return { ...this.storage.counters, ...this.counters };
  }

  /** Throws a GPU error recorded since the last check. */
  throwIfFailed(): void {
    if (this.#pendingError) {
      const e = this.#pendingError;
      this.#pendingError = null;
      throw e;
    }
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) {
      this.#encoder ??= this.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    return this.#pass;
  }

  #endPass(): GPUCommandEncoder {
    this.#encoder ??= this.device.createCommandEncoder();
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    return this.#encoder;
  }

  /**
   * Records one dispatch of `kernel` with its named buffers and uniform params.
   * `workgroups` is the dispatch grid; see {@link grid1d} for large 1-D problems.
   */
  dispatch(
    kernel: Kernel,
    buffers: Record<string, GPUBuffer | null>,
    params: ParamValues,
    workgroups: [number, number?, number?],
    constants: Record<string, number> = {},
  ): void {
    this.throwIfFailed();
    const device = this.device;
    const entries: GPUBindGroupEntry[] = [];
    // A binding given as null is one this dispatch never touches (an output not asked for): it
    // gets a small stand-in of its own, since WebGPU forbids one buffer at two writable bindings.
    // Released at once: the pool hands it out again only to work recorded after this dispatch.
    const standIns: GPUBuffer[] = [];
    for (const b of kernel.bindings) {
      if (b.kind === "uniform") {
        const offset = this.#writeParams(kernel, params);
        entries.push({
          binding: b.binding,
          resource: { buffer: this.#paramsRing, offset, size: kernel.paramsBytes },
        });
      } else {
        let buffer = buffers[b.name];
        if (buffer === undefined) {
          throw new Error(`kernel ${kernel.name}: no buffer for binding '${b.name}'`);
        }
        if (buffer === null) standIns.push(buffer = this.allocate(STAND_IN_BYTES));
        entries.push({ binding: b.binding, resource: { buffer } });
      }
    }
    // Pipeline and bind-group validation (a buffer without STORAGE usage, a bad shader) fails
    // here, not at submit: scope it so the error names this kernel and its real cause.
    device.pushErrorScope("validation");
    let pipeline: GPUComputePipeline, bindGroup: GPUBindGroup;
    try {
      pipeline = kernel.pipeline(device, constants);
      bindGroup = device.createBindGroup({ layout: kernel.layout(device), entries });
    } finally {
      device.popErrorScope().then((e) => {
        if (e) {
          this.#pendingError ??= new GpuError(`kernel ${kernel.name}: ${e.message}`, [
            kernel.name,
          ]);
        }
      });
    }
    const pass = this.#computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    for (const s of standIns) this.release(s);
    this.counters.dispatches++;
    this.#batchKernels.push(kernel.name);
    if (this.#batchKernels.length >= DISPATCHES_PER_SUBMIT) this.flush();
  }

  #writeParams(kernel: Kernel, params: ParamValues): number {
    if (this.#paramsOffset + PARAMS_SLOT > PARAMS_RING_BYTES) this.flush();
    const offset = this.#paramsOffset;
    kernel.packParams(params, this.#paramsStaging, offset);
    this.#paramsOffset += Math.ceil(kernel.paramsBytes / PARAMS_SLOT) * PARAMS_SLOT;
    return offset;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (this.#paramsOffset > this.#paramsDirtyFrom) {
      // Queue writes are ordered before the submit below, after every earlier submit.
      this.device.queue.writeBuffer(
        this.#paramsRing,
        this.#paramsDirtyFrom,
        this.#paramsStaging,
        this.#paramsDirtyFrom,
        this.#paramsOffset - this.#paramsDirtyFrom,
      );
    }
    this.#paramsOffset = 0;
    this.#paramsDirtyFrom = 0;
    if (!this.#encoder) return;
    const encoder = this.#endPass();
    this.#encoder = null;
    const kernels = this.#batchKernels;
    this.#batchKernels = [];
    this.device.pushErrorScope("validation");
    this.device.pushErrorScope("out-of-memory");
    this.device.queue.submit([encoder.finish()]);
    this.counters.submits++;
    const record = (e: GPUError | null) => {
      if (e) this.#pendingError ??= new GpuError(`GPU error: ${e.message}`, kernels);
    };
    this.device.popErrorScope().then(record);
    this.device.popErrorScope().then(record);
  }

  /**
   * A pooled storage buffer of at least `bytes` bytes (contents undefined).
   * @throws {BufferLimitError} when `bytes` exceed what a kernel may bind
   */
  allocate(bytes: number): GPUBuffer {
    if (bytes > this.maxBindingBytes) throw new BufferLimitError(bytes, this.maxBindingBytes);
    return this.storage.acquire(bytes);
  }

  /** Returns a storage buffer to the pool. Safe while recorded commands still use it. */
  release(buffer: GPUBuffer): void {
    this.storage.release(buffer);
  }

  /** Copies CPU data into a buffer, ordered after everything recorded so far. */
  upload(buffer: GPUBuffer, data: Float32Array | Uint32Array | Int32Array, byteOffset = 0): void {
    // writeBuffer is ordered against submits, not against unsubmitted commands, so submit
    // first: a pooled buffer may still be read by a recorded command.
    if (this.#encoder) this.flush();
    this.device.queue.writeBuffer(
      buffer,
      byteOffset,
      data.buffer,
      data.byteOffset,
      data.byteLength,
    );
    this.counters.uploads++;
  }

  /** Copies `bytes` bytes from `src` to `dst` in the command stream. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.#endPass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.#batchKernels.push("copyBufferToBuffer");
  }

  /** Reads `bytes` bytes of a buffer back to the CPU: the only place the CPU waits for the GPU. */
  async readBuffer(buffer: GPUBuffer, bytes: number, byteOffset = 0): Promise<ArrayBuffer> {
    const staging = this.staging.acquire(bytes);
    this.copy(buffer, byteOffset, staging, 0, bytes);
    this.flush();
    this.counters.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      this.throwIfFailed();
      throw e;
    }
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.staging.release(staging);
    // Error scopes resolve after the work they watched; give them a turn before checking.
    await Promise.resolve();
    this.throwIfFailed();
    return out;
  }

  /** Waits until the GPU has finished everything submitted, then reports any GPU error. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
  }
}

let runtime: Runtime | null = null;
let shutdownPromise: Promise<void> | null = null;

/**
 * Releases the GPU before the process exits: submits what is recorded, waits until the queue has
 * finished it (at most `timeoutMs`), then destroys the pooled buffers and the device. Exiting
 * while the driver still runs submitted work crashes some Vulkan drivers in their teardown
 * (lavapipe: SIGSEGV in a helper thread in about one exit in three right after a model is
 * loaded), so every command exits through this. Does nothing before {@link init}; the engine
 * cannot be used afterwards.
 */
export function shutdown(timeoutMs = 30_000): Promise<void> {
  if (!runtime) return Promise.resolve();
  const r = runtime;
  shutdownPromise ??= (async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      r.flush();
      await Promise.race([
        r.device.queue.onSubmittedWorkDone(),
        new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
      ]);
    } catch {
      // a lost device has nothing left to wait for
    } finally {
      clearTimeout(timer);
    }
    r.storage.destroyIdle();
    r.staging.destroyIdle();
    r.device.destroy();
  })();
  return shutdownPromise;
}

/** Acquires the device and prepares the runtime; call once, await it, before using tensors. */
export async function init(options?: DeviceOptions): Promise<Runtime> {
  if (runtime) return runtime;
  if (options) configureDevice(options);
  const device = await getDevice();
  runtime ??= new Runtime(device);
  return runtime;
}

/** The initialised runtime; throws a clear error if {@link init} has not been awaited. */
export function rt(): Runtime {
  if (!runtime) throw new Error("audio-gen engine used before `await init()`");
  return runtime;
}

/** Counters of the current runtime (buffers, bytes, submits, dispatches). */
export function counters(): RuntimeCounters {
  return rt().snapshot();
}

/**
 * Splits `n` workgroups over x and y so that neither exceeds the 65,535 limit. Kernels that use
 * it compute their linear workgroup index as `wid.y * nwg.x + wid.x`.
 */
export function grid1d(invocations: number, workgroupSize: number): [number, number] {
  const groups = Math.max(1, Math.ceil(invocations / workgroupSize));
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
