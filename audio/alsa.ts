/**
 * ALSA capture through Deno's FFI: `libasound.so.2` is opened with `Deno.dlopen` and a PCM is
 * configured for interleaved S16_LE mono at (near) a requested rate. `snd_pcm_readi` is bound
 * with `nonblocking: true`, so each read runs on a thread of Deno's blocking pool and returns a
 * Promise: the event loop (and the GPU work on it) keeps running while ALSA waits for audio.
 * Overruns (-EPIPE) and suspends (-ESTRPIPE) are recovered with `snd_pcm_recover` and counted;
 * any other error is raised as {@link AlsaDeviceError}.
 *
 * Library lookup: a name without a slash is searched in the usual library folders and opened by
 * its absolute path (so `--allow-ffi` can be scoped to those folders); if it is in none of them
 * the bare name is handed to dlopen (LD_LIBRARY_PATH etc.). Deno-only (FFI).
 * @module
 */

/** The library opened by default. */
export const DEFAULT_ALSA_LIBRARY = "libasound.so.2";

/** Folders searched for a bare library name (Debian/Ubuntu multiarch, Fedora, Arch, Alpine). */
export const LIBRARY_DIRS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib/arm-linux-gnueabihf",
  "/usr/lib64",
  "/usr/lib",
  "/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/lib64",
  "/lib",
  "/usr/local/lib",
];

const SND_PCM_STREAM_CAPTURE = 1;
const SND_PCM_ACCESS_RW_INTERLEAVED = 3;
const SND_PCM_FORMAT_S16_LE = 2;
const EPIPE = 32;
const ESTRPIPE = 86;
const EINTR = 4;
const EAGAIN = 11;

const SYMBOLS = {
  snd_pcm_open: { parameters: ["buffer", "buffer", "i32", "i32"], result: "i32" },
  snd_pcm_close: { parameters: ["u64"], result: "i32" },
  snd_pcm_prepare: { parameters: ["u64"], result: "i32" },
  snd_pcm_start: { parameters: ["u64"], result: "i32" },
  snd_pcm_readi: {
    parameters: ["u64", "buffer", "u64"],
    result: "i64",
    nonblocking: true,
  },
  snd_pcm_recover: { parameters: ["u64", "i32", "i32"], result: "i32" },
  snd_pcm_hw_params_malloc: { parameters: ["buffer"], result: "i32" },
  snd_pcm_hw_params_free: { parameters: ["u64"], result: "void" },
  snd_pcm_hw_params_any: { parameters: ["u64", "u64"], result: "i32" },
  snd_pcm_hw_params_set_access: { parameters: ["u64", "u64", "i32"], result: "i32" },
  snd_pcm_hw_params_set_format: { parameters: ["u64", "u64", "i32"], result: "i32" },
  snd_pcm_hw_params_set_channels: { parameters: ["u64", "u64", "u32"], result: "i32" },
  snd_pcm_hw_params_set_rate_near: {
    parameters: ["u64", "u64", "buffer", "buffer"],
    result: "i32",
  },
  snd_pcm_hw_params_set_buffer_time_near: {
    parameters: ["u64", "u64", "buffer", "buffer"],
    result: "i32",
  },
  snd_pcm_hw_params_set_period_time_near: {
    parameters: ["u64", "u64", "buffer", "buffer"],
    result: "i32",
  },
  snd_pcm_hw_params: { parameters: ["u64", "u64"], result: "i32" },
  snd_pcm_hw_params_get_period_size: {
    parameters: ["u64", "buffer", "buffer"],
    result: "i32",
  },
  snd_pcm_hw_params_get_buffer_size: { parameters: ["u64", "buffer"], result: "i32" },
  snd_pcm_sw_params_malloc: { parameters: ["buffer"], result: "i32" },
  snd_pcm_sw_params_free: { parameters: ["u64"], result: "void" },
  snd_pcm_sw_params_current: { parameters: ["u64", "u64"], result: "i32" },
  snd_pcm_sw_params_set_avail_min: { parameters: ["u64", "u64", "u64"], result: "i32" },
  snd_pcm_sw_params_set_start_threshold: {
    parameters: ["u64", "u64", "u64"],
    result: "i32",
  },
  snd_pcm_sw_params: { parameters: ["u64", "u64"], result: "i32" },
} as const;

type AlsaLib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** The ALSA library could not be loaded (missing, wrong architecture, or not permitted). */
export class AlsaLibraryError extends Error {
  constructor(readonly library: string, cause: string) {
    super(
      `cannot load the ALSA library ${library}: ${cause}\n` +
        "Install it (Debian/Ubuntu: sudo apt install libasound2; Fedora: sudo dnf install " +
        "alsa-lib), point --alsa-lib at the file, or feed audio without ALSA: " +
        "--input file.wav, or --input - with raw S16_LE mono on stdin.",
    );
    this.name = "AlsaLibraryError";
  }
}

/** The capture device failed (could not be opened or configured, or failed while reading). */
export class AlsaDeviceError extends Error {
  constructor(readonly device: string, readonly code: number, what: string, hint = "") {
    super(`ALSA capture device "${device}": ${what}${hint ? `\n${hint}` : ""}`);
    this.name = "AlsaDeviceError";
  }
}

const loaded = new Map<string, AlsaLib>();

/** Where a library name resolves: an absolute path found in {@link LIBRARY_DIRS}, or the name. */
export function resolveLibrary(name: string): string {
  if (name.includes("/")) return name;
  for (const dir of LIBRARY_DIRS) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not here (or not readable): try the next folder
    }
  }
  return name;
}

/** Opens (once per name) the ALSA library; throws {@link AlsaLibraryError} naming it. */
export function openAlsaLibrary(name = DEFAULT_ALSA_LIBRARY): AlsaLib {
  const cached = loaded.get(name);
  if (cached) return cached;
  const path = resolveLibrary(name);
  let lib: AlsaLib;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    const cause = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
      ? `not found in ${LIBRARY_DIRS.join(", ")} and not permitted by --allow-ffi (${msg})`
      : msg;
    throw new AlsaLibraryError(name, cause);
  }
  loaded.set(name, lib);
  return lib;
}

/** Options of {@link AlsaCapture.open}. */
export interface AlsaCaptureOptions {
  /** PCM name, e.g. `default`, `hw:1,0`, `pulse`, or one defined in ~/.asoundrc. */
  device?: string;
  /** Requested rate (Hz); the device may give another (see {@link AlsaCapture.rate}). */
  rate?: number;
  /** Library name or path. */
  library?: string;
  /** Ring-buffer length the device is asked for, microseconds (default 1 s). */
  bufferTimeUs?: number;
  /** Period (wake-up interval) asked for, microseconds (default 50 ms). */
  periodTimeUs?: number;
}

/** An open S16_LE mono capture PCM. */
export class AlsaCapture {
  /** Overruns (and suspends) recovered so far. */
  overruns = 0;
  #pcm: bigint;
  #closed = false;
  #reading: Promise<unknown> | null = null;

  private constructor(
    readonly lib: AlsaLib,
    pcm: bigint,
    readonly device: string,
    /** The rate the device actually runs at. */
    readonly rate: number,
    /** Frames per period (a good read size). */
    readonly periodFrames: number,
    /** Frames in the device's ring buffer. */
    readonly bufferFrames: number,
  ) {
    this.#pcm = pcm;
  }

  /** Opens and configures the device (hardware then software parameters) and starts it. */
  static open(opts: AlsaCaptureOptions = {}): AlsaCapture {
    const device = opts.device ?? "default";
    const lib = openAlsaLibrary(opts.library);
    const s = lib.symbols;
    const strerror = errorText;
    const pp = new BigUint64Array(1);
    let rc = s.snd_pcm_open(pp, cString(device), SND_PCM_STREAM_CAPTURE, 0);
    if (rc < 0) {
      throw new AlsaDeviceError(
        device,
        rc,
        `cannot open for capture: ${strerror(rc)}`,
        "List capture devices with `arecord -L`, pass one with --device NAME (e.g. default, " +
          "pulse, hw:1,0), check that no other program holds it, or use --input file.wav.",
      );
    }
    const pcm = pp[0];
    const fail = (what: string, code: number): never => {
      s.snd_pcm_close(pcm);
      throw new AlsaDeviceError(device, code, `${what}: ${strerror(code)}`);
    };
    // hardware parameters
    rc = s.snd_pcm_hw_params_malloc(pp);
    if (rc < 0) fail("cannot allocate hardware parameters", rc);
    const hw = pp[0];
    const rate = new Uint32Array([opts.rate ?? 16000]);
    const dir = new Int32Array(1);
    const bufferTime = new Uint32Array([opts.bufferTimeUs ?? 1_000_000]);
    const periodTime = new Uint32Array([opts.periodTimeUs ?? 50_000]);
    const period = new BigUint64Array(1), buffer = new BigUint64Array(1);
    try {
      if ((rc = s.snd_pcm_hw_params_any(pcm, hw)) < 0) fail("no hardware configuration", rc);
      rc = s.snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED);
      if (rc < 0) fail("interleaved access not supported", rc);
      rc = s.snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE);
      if (rc < 0) fail("S16_LE not supported (try the plug device: --device plughw:...)", rc);
      rc = s.snd_pcm_hw_params_set_channels(pcm, hw, 1);
      if (rc < 0) fail("mono capture not supported (try --device plughw:...)", rc);
      rc = s.snd_pcm_hw_params_set_rate_near(pcm, hw, rate, dir);
      if (rc < 0) fail(`cannot set a rate near ${opts.rate ?? 16000} Hz`, rc);
      s.snd_pcm_hw_params_set_buffer_time_near(pcm, hw, bufferTime, dir);
      s.snd_pcm_hw_params_set_period_time_near(pcm, hw, periodTime, dir);
      if ((rc = s.snd_pcm_hw_params(pcm, hw)) < 0) fail("cannot apply hardware parameters", rc);
      s.snd_pcm_hw_params_get_period_size(hw, period, dir);
      s.snd_pcm_hw_params_get_buffer_size(hw, buffer);
    } finally {
      s.snd_pcm_hw_params_free(hw);
    }
    const periodFrames = Math.max(1, Number(period[0]) || Math.round(rate[0] / 20));
    const bufferFrames = Math.max(periodFrames, Number(buffer[0]) || 4 * periodFrames);
    // software parameters: wake up once a period is there, start on the first read
    rc = s.snd_pcm_sw_params_malloc(pp);
    if (rc < 0) fail("cannot allocate software parameters", rc);
    const sw = pp[0];
    try {
      if ((rc = s.snd_pcm_sw_params_current(pcm, sw)) < 0) fail("no software parameters", rc);
      s.snd_pcm_sw_params_set_avail_min(pcm, sw, BigInt(periodFrames));
      s.snd_pcm_sw_params_set_start_threshold(pcm, sw, 1n);
      if ((rc = s.snd_pcm_sw_params(pcm, sw)) < 0) fail("cannot apply software parameters", rc);
    } finally {
      s.snd_pcm_sw_params_free(sw);
    }
    if ((rc = s.snd_pcm_prepare(pcm)) < 0) fail("cannot prepare", rc);
    return new AlsaCapture(lib, pcm, device, rate[0], periodFrames, bufferFrames);
  }

  /**
   * Reads up to `out.length` frames into `out` without blocking the event loop; resolves with
   * the number of frames read (0 when none were ready). Overruns are recovered and counted.
   * @throws {AlsaDeviceError} on an unrecoverable error
   */
  async read(out: Int16Array): Promise<number> {
    if (this.#closed) throw new AlsaDeviceError(this.device, -1, "read after close");
    if (this.#reading) throw new Error("AlsaCapture.read: a read is already in flight");
    const s = this.lib.symbols;
    const p = s.snd_pcm_readi(this.#pcm, out, BigInt(out.length));
    this.#reading = p;
    let n: number;
    try {
      n = Number(await p);
    } finally {
      this.#reading = null;
    }
    if (n >= 0) return n;
    if (n === -EAGAIN || n === -EINTR) return 0;
    if (n === -EPIPE || n === -ESTRPIPE) {
      this.overruns++;
      const rc = s.snd_pcm_recover(this.#pcm, n, 1);
      if (rc >= 0) return 0;
      n = rc;
    }
    throw new AlsaDeviceError(this.device, n, `read failed: ${this.strerror(n)} (error ${n})`);
  }

  /** Text for an ALSA (negative errno) error code. */
  strerror(code: number): string {
    return errorText(code);
  }

  /** Closes the PCM after any read in flight has returned. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reading) await this.#reading.catch(() => {});
    this.lib.symbols.snd_pcm_close(this.#pcm);
  }
}

const ERRNO: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  4: "Interrupted system call",
  5: "Input/output error",
  11: "Resource temporarily unavailable",
  12: "Cannot allocate memory",
  13: "Permission denied",
  16: "Device or resource busy",
  19: "No such device",
  22: "Invalid argument",
  32: "Broken pipe (overrun)",
  77: "File descriptor in bad state",
  86: "Streams pipe error (suspended)",
  95: "Operation not supported",
  110: "Connection timed out",
  111: "Connection refused",
};

/**
 * Text for a negative errno as ALSA returns it. (A table rather than `snd_strerror`: reading a
 * C string back needs unscoped `--allow-ffi`, and this module works with a path-scoped one.)
 */
export function errorText(code: number): string {
  return ERRNO[-code] ?? `error ${code}`;
}

function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${s}\0`);
}
