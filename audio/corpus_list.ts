/**
 * Corpus list files (`*.corpus.tsv`): the exact, reviewable statement of which audio file is
 * trained on, which is held out, and which is never used.
 *
 *   # comment lines (e.g. the command that wrote the list), only before the header
 *   path<TAB>speaker<TAB>split[<TAB>more columns, e.g. seconds]
 *   ../data/p225/p225_003.wav<TAB>vctk:p225<TAB>dev
 *
 * `path` is relative to the list file's own folder (or absolute); `speaker` may be empty;
 * `split` is `train`, `dev` or `exclude`. Columns are found by header name; extra columns are
 * kept for readers and ignored here. The list is read a chunk at a time.
 *
 * A list is a recipe, so a malformed line (ragged, not UTF-8, an unknown split, a path given twice)
 * is an error naming the file and line, never skipped: a silently shorter recipe would train
 * something else. An audio file the list names but that is missing is skipped and named.
 * Deno-only (reads files).
 * @module
 */
import * as nodePath from "node:path";
import {
  CommonVoiceFormatError,
  isSkip,
  parseTsvHeader,
  parseTsvRow,
  readTsvLines,
  skip,
  type SkippedItem,
} from "./commonvoice.ts";
import type { CorpusClip, SourceSplit } from "./corpus.ts";

/** The splits a list may give a file. */
export const LIST_SPLITS = ["train", "dev", "exclude"] as const;

/** A split a list may give a file. */
export type ListSplit = typeof LIST_SPLITS[number];

/** One line of a corpus list. */
export interface CorpusListEntry {
  /** As written: relative to the list's folder, `/`-separated. */
  path: string;
  /** `corpus:id`, a Common Voice client_id, or "" when unknown. */
  speaker: string;
  split: ListSplit;
  /** Duration (informational; written by `deno task corpus`), or null. */
  seconds: number | null;
  /** Its line in the list file (1-based). */
  line: number;
}

/** The columns a list must have, in the order `deno task corpus` writes them. */
export const LIST_COLUMNS = ["path", "speaker", "split"] as const;

/** A list file that cannot be used as it stands: names the file and line. */
export class CorpusListError extends CommonVoiceFormatError {
  constructor(file: string, line: number | null, message: string) {
    super(line === null ? file : `${file}:${line}`, message);
    this.name = "CorpusListError";
  }
}

/**
 * Every entry of the list at `file`, in file order.
 * @throws {CorpusListError} for a missing column or any malformed line
 */
export async function* readCorpusListEntries(file: string): AsyncGenerator<CorpusListEntry> {
  let header: string[] | null = null;
  const seen = new Map<string, number>();
  for await (const { line, bytes } of readTsvLines(file)) {
    if (header === null) {
      if (bytes[0] === 0x23 /* # */) continue;
      header = parseTsvHeader(bytes, file);
      const missing = LIST_COLUMNS.filter((c) => !header!.includes(c));
      if (missing.length) {
        throw new CorpusListError(
          file,
          line,
          `missing column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} ` +
            `(a corpus list's header is ${LIST_COLUMNS.join("<TAB>")}; found ${header.join(", ")})`,
        );
      }
      continue;
    }
    const row = parseTsvRow(bytes, line, header, file);
    if (isSkip(row)) throw new CorpusListError(file, line, row.reason);
    const { path, speaker, split } = row.fields;
    if (path === "" || path.includes("\0")) {
      throw new CorpusListError(file, line, path === "" ? "empty path" : "path holds a NUL byte");
    }
    if (!(LIST_SPLITS as readonly string[]).includes(split)) {
      throw new CorpusListError(
        file,
        line,
        `split '${split}' is none of ${LIST_SPLITS.join(", ")}`,
      );
    }
    const key = nodePath.posix.normalize(path.replaceAll("\\", "/"));
    const first = seen.get(key);
    if (first !== undefined) {
      throw new CorpusListError(file, line, `${path} is listed again (first on line ${first})`);
    }
    seen.set(key, line);
    const secondsText = row.fields.seconds?.trim() ?? "";
    const seconds = secondsText === "" ? null : Number(secondsText);
    if (seconds !== null && !(seconds >= 0)) {
      throw new CorpusListError(file, line, `seconds '${row.fields.seconds}' is not a duration`);
    }
    yield { path, speaker, split: split as ListSplit, seconds, line };
  }
  if (header === null) throw new CorpusListError(file, null, "empty corpus list (no header)");
}

/** Where the audio of an entry of the list at `file` is. */
export function listedAudioPath(file: string, path: string): string {
  return nodePath.isAbsolute(path) ? path : nodePath.join(nodePath.dirname(file), path);
}

/**
 * The `train` or `dev` clips of the list at `file`, checked to exist; a missing one is skipped
 * and named (its path as listed).
 * @throws {CorpusListError} as {@linkcode readCorpusListEntries}
 */
export async function readCorpusList(file: string, split: "train" | "dev"): Promise<SourceSplit> {
  const clips: CorpusClip[] = [];
  const skipped: SkippedItem[] = [];
  for await (const entry of readCorpusListEntries(file)) {
    if (entry.split !== split) continue;
    const audioPath = listedAudioPath(file, entry.path);
    const stat = await Deno.stat(audioPath).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    });
    if (stat === null) skipped.push(skip(entry.path, "missingFile"));
    else if (!stat.isFile) skipped.push(skip(entry.path, "notAFile"));
    else clips.push({ path: entry.path, audioPath, clientId: entry.speaker, sentence: "" });
  }
  return { clips, skipped, from: `corpus list (${split} rows)` };
}

/**
 * A list file's text: the comment lines (each prefixed `# `), the header and one line per entry
 * (`seconds` to 3 decimals when known). Tabs and newlines in a path or speaker are refused.
 */
export function formatCorpusList(
  entries: readonly Omit<CorpusListEntry, "line">[],
  comments: readonly string[] = [],
): string {
  const lines = comments.map((c) => `# ${c}`.trimEnd());
  lines.push([...LIST_COLUMNS, "seconds"].join("\t"));
  for (const e of entries) {
    for (const v of [e.path, e.speaker]) {
      if (/[\t\r\n]/.test(v)) throw new Error(`corpus list: '${v}' holds a tab or newline`);
    }
    lines.push(
      [e.path, e.speaker, e.split, e.seconds === null ? "" : e.seconds.toFixed(3)].join("\t"),
    );
  }
  return lines.join("\n") + "\n";
}
