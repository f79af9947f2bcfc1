/**
 * A size-bucketed pool of GPU storage buffers, so that a steady training loop allocates no new
 * `GPUBuffer` after warm-up. Sizes round up to one of four classes per power of two
 * (1, 1.25, 1.5, 1.75 × 2^k bytes), which bounds waste at 25 %.
 * @module
 */

/** Counters exposed so tests can check that memory stays flat. */
export interface PoolCounters {
  /** GPUBuffers created and not destroyed (in use or idle in the pool). */
  buffersAllocated: number;
  /** Bytes of those buffers. */
  bytesAllocated: number;
  /** Buffers handed out and not yet released. */
  buffersInUse: number;
  /** Bytes of the buffers in use. */
  bytesInUse: number;
  /** GPUBuffers ever created (monotonic). */
  buffersCreatedTotal: number;
}

/** Smallest bucket that holds `bytes` (at least 256 bytes, a multiple of 16). */
export function bucketSize(bytes: number): number {
  const n = Math.max(256, bytes);
  const pow = 2 ** Math.floor(Math.log2(n));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const size = Math.ceil((pow * f) / 16) * 16;
    if (size >= n) return size;
  }
  return pow * 2;
}

/** A pool of buffers with one fixed usage. */
export class BufferPool {
  readonly #free = new Map<number, GPUBuffer[]>();
  readonly #sizeOf = new WeakMap<GPUBuffer, number>();
  readonly counters: PoolCounters = {
    buffersAllocated: 0,
    bytesAllocated: 0,
    buffersInUse: 0,
    bytesInUse: 0,
    buffersCreatedTotal: 0,
  };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
    /** Largest buffer to create: a bucket above it is cut to it (a multiple of 16). */
    private readonly maxBytes = Infinity,
  ) {}

  /** A buffer of at least `bytes` bytes (at most the pool's `maxBytes`); contents undefined. */
  acquire(bytes: number): GPUBuffer {
    const size = Math.max(bytes, Math.min(bucketSize(bytes), Math.floor(this.maxBytes / 16) * 16));
    const list = this.#free.get(size);
    let buffer = list?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({ size, usage: this.usage, label: this.label });
      this.#sizeOf.set(buffer, size);
      this.counters.buffersAllocated++;
      this.counters.bytesAllocated += size;
      this.counters.buffersCreatedTotal++;
    }
    this.counters.buffersInUse++;
    this.counters.bytesInUse += size;
    return buffer;
  }

  /** Returns a buffer to the pool for reuse. */
  release(buffer: GPUBuffer): void {
    const size = this.#sizeOf.get(buffer);
    if (size === undefined) {
      throw new Error(`buffer ${buffer.label} is not from pool ${this.label}`);
    }
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buffer);
    this.counters.buffersInUse--;
    this.counters.bytesInUse -= size;
  }

  /**
   * Destroys every buffer the pool created that is idle in it (buffers still handed out are
   * the caller's): for a clean shutdown, after the queue is idle.
   */
  destroyIdle(): void {
    for (const list of this.#free.values()) {
      for (const buffer of list) {
        this.counters.buffersAllocated--;
        this.counters.bytesAllocated -= this.#sizeOf.get(buffer)!;
        buffer.destroy();
      }
    }
    this.#free.clear();
  }
}
