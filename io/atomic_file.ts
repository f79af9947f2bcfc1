/**
 * Crash-safe file writes: data goes to a temporary file beside the target, is flushed to disk,
 * and is then renamed over the target. A kill at any moment leaves either the old file or the
 * new one, never a torn one. Deno-only (file-system edge).
 * @module
 */

/** Writes `data` to `path` atomically (temp file + fsync + rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.${Deno.pid}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
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
