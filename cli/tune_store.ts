/**
 * The Deno edge of the autotuner (engine/autotune.ts): a {@link TuneStore} that keeps one
 * adapter's tuned tile configs as JSON in `out/tune/<hash of the adapter description>.json`, and
 * `AUDIO_GEN_AUTOTUNE=1`, read here, to turn tuning on.
 * @module
 */
import { adapterReport } from "../engine/device.ts";
import { enableAutotune, type TuneStore } from "../engine/autotune.ts";

/** Directory of the per-adapter tune files. */
export const TUNE_DIR = "out/tune";

/** A short stable hash (FNV-1a, 32-bit, hex) of an adapter description, for file names. */
export function adapterHash(description: string): string {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(description)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** A {@link TuneStore} backed by one JSON file (read once, rewritten on every `set`). */
export class FileTuneStore implements TuneStore {
  #data: Record<string, unknown> | null = null;

  constructor(readonly path: string) {}

  async #load(): Promise<Record<string, unknown>> {
    if (this.#data) return this.#data;
    try {
      const parsed = JSON.parse(await Deno.readTextFile(this.path));
      this.#data = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
    } catch (e) {
      // A missing or unreadable file is an empty store (it is a cache, rebuilt by tuning).
      if (!(e instanceof Deno.errors.NotFound || e instanceof SyntaxError)) throw e;
      this.#data = {};
    }
    return this.#data!;
  }

  async get(key: string): Promise<unknown> {
    return (await this.#load())[key];
  }

  async set(key: string, value: unknown): Promise<void> {
    const data = await this.#load();
    data[key] = value;
    const dir = this.path.replace(/[\\/][^\\/]*$/, "");
    if (dir !== this.path) await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(this.path, JSON.stringify(data, null, 2) + "\n");
  }
}

/** The store for the current adapter under `dir` (acquires the device if needed). */
export async function adapterTuneStore(dir = TUNE_DIR): Promise<FileTuneStore> {
  const { description, backend } = await adapterReport();
  return new FileTuneStore(`${dir}/${adapterHash(`${description} ${backend}`)}.json`);
}

/**
 * Turns tuning on with the adapter's file store when `AUDIO_GEN_AUTOTUNE` is set to something
 * other than "" or "0" (needs --allow-env; without it tuning stays off). Returns whether it did.
 * Callers then run `tunePending()` after a first step has met the shapes.
 */
export async function autotuneFromEnv(): Promise<boolean> {
  let env: string | undefined;
  try {
    env = Deno.env.get("AUDIO_GEN_AUTOTUNE");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied)) {
      throw e;
    }
  }
  if (env === undefined || env === "" || env === "0") return false;
  enableAutotune({ store: await adapterTuneStore() });
  return true;
}
