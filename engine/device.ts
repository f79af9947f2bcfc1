/**
 * The one place that acquires the WebGPU adapter and device.
 *
 * Portable: uses only `navigator.gpu`, so the same code runs in Deno and in a browser.
 * Whether to refuse the adapter (for testing the no-GPU path) is decided by the caller at
 * the edge (a CLI flag or environment variable) and passed in through {@link configureDevice}.
 * @module
 */

/** Thrown when no WebGPU adapter can be had; its message says what to install. */
export class NoAdapterError extends Error {
  constructor(reason: string) {
    super(
      `audio-gen needs WebGPU but no adapter was found (${reason}). ` +
        "On Linux without a GPU, install Mesa's software Vulkan driver " +
        "(`apt-get install mesa-vulkan-drivers`, which provides lavapipe) or make sure " +
        "Mesa's llvmpipe (libgl1-mesa-dri) is present; with a GPU, install its Vulkan driver " +
        "and the loader (`libvulkan1`). In Deno older than 2.0 run with --unstable-webgpu; " +
        "in a browser use one with WebGPU enabled. Unset AUDIO_GEN_NO_GPU if it is set.",
    );
    this.name = "NoAdapterError";
  }
}

/** Options read once, before the device is first acquired. */
export interface DeviceOptions {
  /** Pretend no adapter exists (tests the error path). */
  forceNoAdapter?: boolean;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
}

/** What {@link adapterReport} returns. */
export interface AdapterReport {
  description: string;
  vendor: string;
  architecture: string;
  backend: string;
  isFallbackAdapter: boolean;
  limits: Record<string, number>;
  features: string[];
}

let options: DeviceOptions = {};
let devicePromise: Promise<GPUDevice> | null = null;
let adapterInfo: AdapterReport | null = null;

/** Sets device options; must be called before the first {@link getDevice}. */
export function configureDevice(opts: DeviceOptions): void {
  if (devicePromise) throw new Error("configureDevice must be called before the device is used");
  options = { ...opts };
}

const LIMITS_WANTED = [
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupsPerDimension",
] as const;

async function acquire(): Promise<GPUDevice> {
  if (options.forceNoAdapter) throw new NoAdapterError("disabled by AUDIO_GEN_NO_GPU / --no-gpu");
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoAdapterError("navigator.gpu is undefined in this runtime");
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) throw new NoAdapterError("requestAdapter() returned null");
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS_WANTED) requiredLimits[k] = adapter.limits[k];
  const device = await adapter.requestDevice({ requiredLimits });
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const k of LIMITS_WANTED) limits[k] = device.limits[k];
  const infoRecord = info as unknown as Record<string, unknown>;
  adapterInfo = {
    description: info?.description ?? "",
    vendor: info?.vendor ?? "",
    architecture: info?.architecture ?? "",
    backend: String(infoRecord?.["backend"] ?? guessBackend(info?.vendor ?? "")),
    isFallbackAdapter: Boolean(
      infoRecord?.["isFallbackAdapter"] ??
        (adapter as unknown as Record<string, unknown>)["isFallbackAdapter"],
    ),
    limits,
    features: [...adapter.features],
  };
  return device;
}

function guessBackend(vendor: string): string {
  // 0x10005 is VK_VENDOR_ID_MESA: lavapipe reports it through Vulkan.
  return vendor === "65541" ? "vulkan (mesa)" : "unknown";
}

/** The shared device; acquired on first call and cached. */
export function getDevice(): Promise<GPUDevice> {
  if (!devicePromise) {
    devicePromise = acquire();
    // A failed acquisition is not cached, so the caller may fix things and retry.
    devicePromise.catch(() => {
      devicePromise = null;
    });
  }
  return devicePromise;
}

/** Name, backend and limits of the adapter in use (acquires it if needed). */
export async function adapterReport(): Promise<AdapterReport> {
  await getDevice();
  return adapterInfo!;
}

/** The adapter report once the device has been acquired, else null (no waiting). */
export function currentAdapter(): AdapterReport | null {
  return adapterInfo;
}

/**
 * Whether the adapter in use runs on the CPU (a fallback adapter, or a software driver such as
 * lavapipe / llvmpipe or SwiftShader by its description): kernels pick their CPU variants then.
 */
export function isCpuAdapter(): boolean {
  const info = currentAdapter();
  return Boolean(
    info?.isFallbackAdapter ||
      /llvmpipe|lavapipe|swiftshader|software/i.test(info?.description ?? ""),
  );
}
