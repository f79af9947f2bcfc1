/**
 * Rules that decide a corpus list (audio/corpus_list.ts) for every audio file under some
 * folders, so a recipe's split is written down as data and can be regenerated: in order,
 *
 *   1. `exclude` globs: never used (`exclude`);
 *   2. `dev` globs, `devRows` (rows of a Common Voice TSV: `folder/validated.tsv:81-99`) and
 *      `holdOutSpeakers` (speaker-id globs, `librispeech:*0`): held out (`dev`);
 *   3. the rest: `dev` for a `devFraction` share of speakers (by file where the speaker is
 *      unknown; the plain folder split of audio/corpus.ts), else `train`.
 *
 * Globs match the file's `/`-separated path relative to its folder: `*` and `?` within one path
 * part, `**` across parts. Durations come from the files' headers (audio/decode.ts probeAudio).
 * A rule that matches nothing is reported (likely a typo), and so is a speaker found in both
 * train and dev. Deno-only (reads folders).
 * @module
 */
import * as nodePath from "node:path";
import { parseCommonVoiceTsv } from "./commonvoice.ts";
import { findAudioFiles, plainFolderSplit } from "./corpus.ts";
import type { CorpusListEntry, ListSplit } from "./corpus_list.ts";
import { probeAudio } from "./decode.ts";
import { AudioDecodeError } from "./errors.ts";
import { speakerOf } from "./speakers.ts";

/** What decides the split of each file. */
export interface CorpusRules {
  /** Folders searched recursively for audio. */
  roots: string[];
  /** Globs of files never used. */
  exclude: string[];
  /** Globs of files held out. */
  dev: string[];
  /** Common Voice TSV rows held out: `folder/validated.tsv:FIRST-LAST` (1-based data rows). */
  devRows: string[];
  /** Speaker-id globs (`librispeech:*0`, `vctk:p225`) held out wherever they speak. */
  holdOutSpeakers: string[];
  /** Share of the other speakers (files, where unknown) held out by hash (default 0). */
  devFraction: number;
}

/** A rule that cannot be applied: names the rule. */
export class CorpusRuleError extends Error {
  constructor(rule: string, problem: string) {
    super(`${rule}: ${problem}`);
    this.name = "CorpusRuleError";
  }
}

/** The list the rules give, and what a reviewer should know about it. */
export interface CorpusPlan {
  /** One entry per audio file, paths relative to the list's folder, sorted by root then path. */
  entries: Omit<CorpusListEntry, "line">[];
  /** The folder (under its root) of each entry, for summaries: `vctk-autovc`. */
  folders: string[];
  /** Rules that matched no file, and files whose duration could not be read. */
  warnings: string[];
}

/**
 * A glob as a RegExp over `/`-separated paths: `**` any run of characters (across parts; `**∕`
 * also none), `*` any run within a part, `?` one character within a part.
 *
 * @example
 * ```ts
 * import { globToRegExp } from "./corpus_rules.ts";
 * globToRegExp("ljspeech/**").test("ljspeech/wavs/LJ001-0001.wav"); // true
 * globToRegExp("lhotse/LJ002-*").test("lhotse/LJ002-0020.wav"); // true
 * ```
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Rows `FIRST-LAST` of a TSV under one of the roots: the clip files they name. */
async function devRowFiles(rule: string, roots: readonly string[]): Promise<Set<string>> {
  const m = /^(.+):(\d+)-(\d+)$/.exec(rule);
  if (!m) throw new CorpusRuleError(`--dev-rows ${rule}`, "expected FOLDER/FILE.tsv:FIRST-LAST");
  const [, tsv, a, b] = m;
  const [first, last] = [Number(a), Number(b)];
  if (!(first >= 1 && last >= first)) {
    throw new CorpusRuleError(`--dev-rows ${rule}`, "rows are 1-based, FIRST ≤ LAST");
  }
  for (const root of roots) {
    const full = nodePath.join(root, tsv);
    const bytes = await Deno.readFile(full).catch(() => null);
    if (!bytes) continue;
    const table = parseCommonVoiceTsv(bytes, full);
    if (table.skipped.length) {
      throw new CorpusRuleError(`--dev-rows ${rule}`, `${full} has unreadable rows`);
    }
    if (!table.header.includes("path")) {
      throw new CorpusRuleError(`--dev-rows ${rule}`, `${full} has no "path" column`);
    }
    if (last > table.rows.length) {
      throw new CorpusRuleError(
        `--dev-rows ${rule}`,
        `${full} has only ${table.rows.length} rows`,
      );
    }
    const clipsDir = nodePath.join(nodePath.dirname(full), "clips");
    return new Set(
      table.rows.slice(first - 1, last).map((r) => nodePath.join(clipsDir, r.fields.path)),
    );
  }
  throw new CorpusRuleError(`--dev-rows ${rule}`, `${tsv} is under none of ${roots.join(", ")}`);
}

/**
 * Applies `rules` to every audio file under `rules.roots`, for a list to be written at
 * `listFile` (entry paths are relative to its folder).
 * @throws {CorpusRuleError} for a rule that cannot be read or applied
 */
export async function planCorpus(rules: CorpusRules, listFile: string): Promise<CorpusPlan> {
  const listDir = nodePath.dirname(nodePath.resolve(listFile));
  const matchers = (globs: string[]) => globs.map((g) => ({ g, re: globToRegExp(g), hits: 0 }));
  const exclude = matchers(rules.exclude), dev = matchers(rules.dev);
  const speakers = matchers(rules.holdOutSpeakers);
  const rows = new Map<string, { files: Set<string>; hits: number }>();
  for (const r of rules.devRows) rows.set(r, { files: await devRowFiles(r, rules.roots), hits: 0 });
  const plan: CorpusPlan = { entries: [], folders: [], warnings: [] };
  const hit = (ms: ReturnType<typeof matchers>, s: string) => {
    const m = ms.find((x) => x.re.test(s));
    if (m) m.hits++;
    return m !== undefined;
  };
  for (const root of rules.roots) {
    const { files, skipped } = await findAudioFiles(root);
    plan.warnings.push(...skipped.map((s) => `${nodePath.join(root, s.name)}: ${s.reason}`));
    for (const { path, audioPath } of files) {
      const speaker = speakerOf(path) ?? "";
      const inRows = [...rows.values()].find((r) => r.files.has(nodePath.join(root, path)));
      if (inRows) inRows.hits++;
      let split: ListSplit;
      if (hit(exclude, path)) split = "exclude";
      else if (hit(dev, path) || inRows || (speaker !== "" && hit(speakers, speaker))) {
        split = "dev";
      } else split = plainFolderSplit(path, { devFraction: rules.devFraction });
      let seconds: number | null = null;
      try {
        seconds = probeAudio(await Deno.readFile(audioPath), audioPath).durationSeconds;
      } catch (e) {
        if (!(e instanceof AudioDecodeError)) throw e;
        plan.warnings.push(`${audioPath}: ${e.reason} (listed; prepare will skip it)`);
      }
      const rel = nodePath.relative(listDir, nodePath.resolve(root, path)).split(nodePath.sep);
      plan.entries.push({ path: rel.join("/"), speaker, split, seconds });
      plan.folders.push(path.split("/").length > 1 ? path.split("/")[0] : ".");
    }
  }
  for (
    const [what, ms] of [["--exclude", exclude], ["--dev", dev], [
      "--hold-out-speakers",
      speakers,
    ]] as const
  ) {
    for (const m of ms) if (m.hits === 0) plan.warnings.push(`${what} '${m.g}' matched no file`);
  }
  for (const [r, { files, hits }] of rows) {
    if (hits < files.size) {
      plan.warnings.push(`--dev-rows ${r}: ${files.size - hits} of its clips are not audio found`);
    }
  }
  plan.warnings.push(...speakersInBothSplits(plan.entries));
  return plan;
}

/** A warning for each known speaker with files both trained on and held out. */
function speakersInBothSplits(entries: CorpusPlan["entries"]): string[] {
  const splits = new Map<string, Set<ListSplit>>();
  for (const e of entries) {
    if (e.speaker === "") continue;
    if (!splits.has(e.speaker)) splits.set(e.speaker, new Set());
    splits.get(e.speaker)!.add(e.split);
  }
  return [...splits].filter(([, s]) => s.has("train") && s.has("dev")).map(([speaker]) =>
    `speaker ${speaker} is both trained on and held out`
  );
}
