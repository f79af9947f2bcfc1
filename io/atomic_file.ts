/**
 * Crash-safe file writes: data goes to a temporary file beside the target, is flushed to disk,
 * and is then renamed over the target. A kill at any moment leaves either the old file or the
 * new one, never a torn one. Deno-only (file-system edge).
 * @module
 */

/** The temp file an atomic write of `path` goes through (`PATH.PID.tmp`, beside it). */
export function tempPathOf(path: string): string {
  return `${path}.${Deno.pid}.tmp`;
}

/**
 * A failed atomic write, named by its destination: the message says `cannot write PATH: why`,
 * with the temp file the system error named replaced by PATH. A refused permission
 * (`Deno.errors.NotCapable`) is not wrapped: cli/permissions.ts turns it into the command line
 * that allows it.
 */
export class WriteFileError extends Error {
  constructor(readonly path: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`cannot write ${path}: ${why.replaceAll(tempPathOf(path), path)}`, { cause });
    this.name = "WriteFileError";
  }
}

/** Runs `write`, turning a failure into a {@link WriteFileError} naming `path`. */
export async function namingDestination<T>(path: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof WriteFileError) throw e;
    throw new WriteFileError(path, e);
  }
}

/**
 * Writes `data` to `path` atomically (temp file + fsync + rename); a failure is a
 * {@link WriteFileError} naming `path` (and leaves no temp file when it can remove it).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempPathOf(path);
  return namingDestination(path, async () => {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      try {
        let written = 0;
        while (written < bytes.length) written += await file.write(bytes.subarray(written));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  });
}

/**
 * Removes the temp files (`NAME.PID.tmp`) that a killed earlier run left in `dir` for targets
 * accepted by `isTarget(NAME)`; they are never read, but would otherwise pile up, one per kill.
 * This process's own temp files are kept.
 */
export async function removeStaleTempFiles(
  dir: string,
  isTarget: (name: string) => boolean,
): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const m = /^(.+)\.(\d+)\.tmp$/.exec(e.name);
    if (!e.isFile || !m || !isTarget(m[1]) || Number(m[2]) === Deno.pid) continue;
    await Deno.remove(`${dir}/${e.name}`).catch(() => {});
  }
}
