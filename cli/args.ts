/**
 * Command-line plumbing shared by every command: flag parsing that turns any problem into a
 * {@link UsageError} before work starts, number flags with range checks, and `runCommand`, which
 * maps errors to exit codes (64 bad usage or config, 1 anything else) with one clear message.
 * @module
 */
import * as nodePath from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { shutdown } from "../engine/mod.ts";
import { ConfigError } from "../vae/config.ts";
import {
  checkWritable,
  refusedWritePaths,
  WriteNotAllowedError,
  writeRefusalHint,
} from "./permissions.ts";

/** Exit code for a bad command line or config (refused before any work). */
export const EXIT_USAGE = 64;

/** A bad command line; the command prints its usage after the message. */
export class UsageError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Flags every command accepts. */
const COMMON = {
  "no-gpu": { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

/** Parses `args` strictly against `options` (plus --no-gpu and --help). */
export function parseFlags<O extends Options>(args: string[], options: O) {
  const config = {
    args,
    options: { ...options, ...COMMON },
    strict: true as const,
    allowPositionals: false as const,
  };
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if ((parsed.values as Record<string, unknown>).help) throw new UsageError("");
  return parsed.values;
}

/**
 * The number in flag `--name`, or undefined when the flag is absent. Refuses non-numbers,
 * values below `min` and, with `integer`, fractions.
 */
export function numberFlag(
  name: string,
  value: string | boolean | undefined,
  opts: { min?: number; integer?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const min = opts.min ?? -Infinity;
  if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(n) || n < min) {
    throw new UsageError(
      `--${name} must be a number${Number.isFinite(min) ? ` >= ${min}` : ""}, got '${value}'`,
    );
  }
  if (opts.integer && !Number.isInteger(n)) {
    throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  }
  return n;
}

/** What a command's body tells {@link runCommand} about its run. */
export interface CommandRun {
  /**
   * Declares the folders (or files) this run writes, before any work: throws a
   * {@link WriteNotAllowedError} when the process may not write there.
   */
  writesTo(...paths: string[]): void;
  /**
   * Declares an output file, before any work: its folder must be writable ({@link writesTo})
   * and is created when missing; a folder at the path itself, or a file where its folder should
   * be, is a {@link UsageError} naming the path.
   */
  writesFile(path: string): Promise<void>;
}

/** Checks and prepares an output file's place; see {@link CommandRun.writesFile}. */
async function prepareOutputFile(path: string, flag = "--out"): Promise<void> {
  const stat = await Deno.stat(path).catch(() => null);
  if (stat?.isDirectory) {
    throw new UsageError(`${flag} ${path} is a folder; give the path of a file to write`);
  }
  const dir = nodePath.dirname(path);
  const parent = await Deno.stat(dir).catch(() => null);
  if (parent && !parent.isDirectory) {
    throw new UsageError(`${flag} ${path}: ${dir} is a file, not a folder`);
  }
  if (!parent) {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new UsageError(
        `${flag} ${path}: cannot create its folder ${dir}: ${(e as Error).message}`,
      );
    }
  }
}

/**
 * Runs a command's body and exits through {@link exitCleanly}: 0 when it returns (or the code it returns), 64 with the usage
 * text for a {@link ConfigError} (bad flags, config file or checkpoint config), 64 for a write
 * refused before any work and 1 for one refused during it (both with the exact command line
 * that allows it, see cli/permissions.ts), 1 for anything else; each with one line
 * `name: message` on stderr.
 */
export async function runCommand(
  name: string,
  usage: string,
  body: (run: CommandRun) => Promise<number | void>,
): Promise<never> {
  const declared: string[] = [];
  const run: CommandRun = {
    writesTo(...paths) {
      declared.push(...paths);
      checkWritable(paths);
    },
    async writesFile(path) {
      run.writesTo(nodePath.dirname(path)); // the file and its temp file beside it
      await prepareOutputFile(path);
    },
  };
  let code: number;
  try {
    code = (await body(run)) ?? 0;
  } catch (e) {
    const refused = refusedWritePaths(e);
    if (refused) {
      console.error(writeRefusalHint(name, refused, declared, Deno.args));
      code = e instanceof WriteNotAllowedError ? EXIT_USAGE : 1;
    } else {
      const message = (e as Error).message;
      if (message) console.error(`${name}: ${message}`);
      if (e instanceof ConfigError) console.error(usage);
      code = e instanceof ConfigError ? EXIT_USAGE : 1;
    }
  }
  return await exitCleanly(code);
}

/**
 * Exits with `code` after releasing the GPU (engine `shutdown`: the queue idle, buffers and
 * device destroyed), so that an exit never races the driver's teardown (issue 13 item 9: one
 * exit in three after a model load ended in SIGSEGV, exit 139, instead of its code).
 */
export async function exitCleanly(code: number): Promise<never> {
  try {
    await shutdown();
  } catch (e) {
    console.error(`(releasing the GPU at exit: ${(e as Error).message})`);
  }
  Deno.exit(code);
}
