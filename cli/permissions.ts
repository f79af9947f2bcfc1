/**
 * Write permission of the commands: each `deno task` may write only under `out/` (deno.json
 * passes `--allow-write=out`). A command declares where it will write before any work
 * ({@link checkWritable}); where that is not allowed, or a write is refused later anyway, the
 * message names the exact `deno run` command line that allows it: the task's own flags from
 * deno.json with those folders added to `--allow-write`, then the same arguments. (Deno's own
 * hint, "run again with the --allow-write flag", does not work through `deno task`, which
 * passes flags after the task name to the script.)
 * @module
 */
import * as nodePath from "node:path";

/** Thrown before any work when a command may not write where it was asked to. */
export class WriteNotAllowedError extends Error {
  constructor(readonly paths: string[]) {
    super(`may not write to ${paths.join(", ")}`);
    this.name = "WriteNotAllowedError";
  }
}

/** Throws {@link WriteNotAllowedError} naming those of `paths` this process may not write. */
export function checkWritable(paths: readonly string[]): void {
  const refused = paths.filter((path) =>
    Deno.permissions.querySync({ name: "write", path }).state !== "granted"
  );
  if (refused.length) throw new WriteNotAllowedError(refused);
}

/**
 * The paths a refused write names: those of a {@link WriteNotAllowedError}, or the path in
 * Deno's own `NotCapable` message for a write (`Requires write access to "…"`); null for any
 * other error.
 */
export function refusedWritePaths(e: unknown): string[] | null {
  if (e instanceof WriteNotAllowedError) return e.paths;
  if (!(e instanceof Deno.errors.NotCapable)) return null;
  const m = /write access to "([^"]+)"/.exec(e.message);
  return m ? [m[1]] : null;
}

/** `arg` as one POSIX shell word (quoted only when it needs to be). */
export function shellWord(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line of a task (`deno run --allow-… script.ts`) with `paths` added to its
 * `--allow-write` list and `args` after the script.
 *
 * @example
 * ```ts
 * import { commandAllowingWrites } from "./permissions.ts";
 * commandAllowingWrites("deno run --allow-read --allow-write=out cli/train.ts", ["/tmp/x"], [
 *   "--out",
 *   "/tmp/x",
 * ]);
 * // "deno run --allow-read --allow-write=out,/tmp/x cli/train.ts --out /tmp/x"
 * ```
 */
export function commandAllowingWrites(
  task: string,
  paths: readonly string[],
  args: readonly string[],
): string {
  const words = task.trim().split(/\s+/);
  const at = words.findIndex((w) => w === "--allow-write" || w.startsWith("--allow-write="));
  if (at >= 0 && words[at] !== "--allow-write") {
    const allowed = words[at].slice("--allow-write=".length).split(",").filter((p) => p);
    words[at] = `--allow-write=${[...new Set([...allowed, ...paths])].join(",")}`;
  } else if (at < 0) {
    const script = words.findIndex((w) => w.endsWith(".ts"));
    words.splice(script < 0 ? words.length : script, 0, `--allow-write=${paths.join(",")}`);
  }
  return [...words.map(shellWord), ...args.map(shellWord)].join(" ");
}

/** deno.json's command for task `name`, or a plain `deno run` of cli/NAME.ts when unreadable. */
function taskCommand(name: string): string {
  const fallback = `deno run --allow-read --allow-write=out ` +
    `--allow-env=AUDIO_GEN_NO_GPU,AUDIO_GEN_AUTOTUNE cli/${name}.ts`;
  try {
    const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
    const task = config.tasks?.[name];
    return typeof task === "string" ? task : task?.command ?? fallback;
  } catch {
    return fallback;
  }
}

/**
 * What to print when command `name` was refused writes to `refused`: which paths, and the
 * command line (its task's flags with `declared` and the refused paths' folders allowed, then
 * `args`) that allows them.
 */
export function writeRefusalHint(
  name: string,
  refused: readonly string[],
  declared: readonly string[],
  args: readonly string[],
): string {
  // A refused path outside what the command declared (an undeclared write) needs its folder:
  // atomic writes create a temp file beside their target.
  const within = (p: string, dir: string) => !nodePath.relative(dir, p).startsWith("..");
  const extra = refused
    .filter((p) => !declared.some((d) => within(nodePath.resolve(p), nodePath.resolve(d))))
    .map((p) => nodePath.dirname(p));
  const paths = [...new Set([...declared, ...extra])];
  return `${name}: may not write to ${refused.join(", ")}: \`deno task ${name}\` writes only ` +
    `under out/. To write there, run (from the project folder):\n  ` +
    commandAllowingWrites(taskCommand(name), paths, args);
}
