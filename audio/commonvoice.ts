/**
 * Mozilla Common Voice reader: one language folder of a release (`clips/*.mp3` plus TSV
 * splits) to a list of checked clip rows, and a list of what was skipped and why.
 *
 * - Columns are found by header name, so every release's header works (v1 `client_id path
 *   sentence up_votes down_votes age gender accent`, v5 `+ locale segment`, later `accents`,
 *   v13 `+ variant`, v17 `+ sentence_id sentence_domain`).
 * - CV writes TSVs with `csv.QUOTE_NONE`: fields are split on tabs only and quotes are text.
 * - Delta releases ship only `validated.tsv`; `train`/`dev`/`test` are then made from it by
 *   hashing `client_id`, so a speaker lands in exactly one split.
 * - Nothing in a row stops a run: ragged rows, bad bytes, paths outside `clips/`, missing
 *   files and filtered clips are skipped and listed. A missing *column* is an error (the
 *   whole file is unusable), and names the file and the column.
 * @module
 */

import * as nodePath from "node:path";
import { probeAudio } from "./decode.ts";
import { AudioDecodeError } from "./errors.ts";

/** The TSV splits of a Common Voice language folder. */
export type CommonVoiceSplit = "train" | "dev" | "test" | "validated" | "invalidated" | "other";

/** One usable clip: its row, fields named as in the current CV header (camelCase). */
export interface ClipRow {
  /** Speaker id (`client_id`, a sha512 hex in real releases; may be empty). */
  clientId: string;
  /** File name under `clips/` as given by the TSV (with `.mp3` appended for old rows). */
  path: string;
  /** Resolved path of the audio file (inside `clips/`). */
  audioPath: string;
  /** Transcript, verbatim (may hold quotes). */
  sentence: string;
  /** `sentence_id` (v17+), or `null` when the release has no such column. */
  sentenceId: string | null;
  /** `up_votes`, or `null` when the column is absent or empty. */
  upVotes: number | null;
  /** `down_votes`, or `null` when the column is absent or empty. */
  downVotes: number | null;
  /** `age` ("" when unknown). */
  age: string;
  /** `gender` ("" when unknown). */
  gender: string;
  /** `accents` (v1-v7 called it `accent`; "" when unknown). */
  accents: string;
  /** `variant` (v13+; "" when unknown). */
  variant: string;
  /** `locale` (v5+; "" when unknown). */
  locale: string;
  /** `segment` (v5+; "" when none). */
  segment: string;
  /** Duration from `clip_durations.tsv` or from the MP3 frames; `null` when not looked up. */
  durationSeconds: number | null;
}

/** Something left out: a clip (by its `path`) or a TSV line (`file.tsv:LINE`). */
export interface SkippedItem {
  /** Clip path, or `train.tsv:17` for a row that could not be read. */
  name: string;
  /** Why, in a few words: "missing file", "ragged row: 5 fields, expected 13", ... */
  reason: string;
  /** `"invalid"`: broken input; `"filtered"`: valid but excluded by a filter. */
  kind: "invalid" | "filtered";
}

/** Filters applied to rows, in this order: votes, file checks, duration, per-speaker cap. */
export interface CommonVoiceFilters {
  /** Drop clips shorter than this (seconds). */
  minDurationSeconds?: number;
  /** Drop clips longer than this (seconds). */
  maxDurationSeconds?: number;
  /** Drop rows with fewer up votes (rows with an empty vote field are kept). */
  minUpVotes?: number;
  /** Drop rows with more down votes (rows with an empty vote field are kept). */
  maxDownVotes?: number;
  /** Keep at most this many clips per `client_id`, first in file order (empty ids: no cap). */
  maxClipsPerSpeaker?: number;
}

/** Options for {@linkcode readCommonVoiceSplit}. */
export interface ReadCommonVoiceOptions extends CommonVoiceFilters, SpeakerSplitOptions {
  /**
   * Read each clip's MP3 frame headers (cheap: no decoding) to catch empty, non-MP3 and
   * truncated files up front, and to fill `durationSeconds`. Default false: only existence
   * and location are checked, and headers are read only where a duration filter needs a
   * duration that `clip_durations.tsv` does not give.
   */
  probeAudio?: boolean;
}

/** Fractions for the speaker-hash split of delta releases. */
export interface SpeakerSplitOptions {
  /** Share of speakers in `dev` (default 0.1). */
  devFraction?: number;
  /** Share of speakers in `test` (default 0.1). */
  testFraction?: number;
  /** Text mixed into the hash, to draw a different (still deterministic) split. */
  splitSalt?: string;
}

/** What {@linkcode readCommonVoiceSplit} returns. */
export interface CommonVoiceSplitResult {
  /** Usable clips, in TSV order. */
  clips: ClipRow[];
  /** Everything left out, in TSV order, with reasons. */
  skipped: SkippedItem[];
  /** Where the rows came from: `"train.tsv"`, or `"validated.tsv (speaker hash split)"`. */
  source: string;
}

/** A TSV that cannot be used at all (missing column, unreadable header). */
export class CommonVoiceFormatError extends Error {
  /** The TSV file at fault. */
  readonly file: string;
  /** Build an error about `file`. */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "CommonVoiceFormatError";
    this.file = file;
  }
}

/** One parsed TSV: header, rows as name→value records with 1-based line numbers. */
export interface TsvTable {
  /** Column names, as in the header line. */
  header: string[];
  /** Rows that have exactly as many fields as the header. */
  rows: { line: number; fields: Record<string, string> }[];
  /** Lines that could not be read (ragged, bad UTF-8), named `file:LINE`. */
  skipped: SkippedItem[];
}

/**
 * Parse Common Voice TSV bytes. Tabs separate fields and nothing is quoted (CV uses
 * `csv.QUOTE_NONE`); each line is decoded as UTF-8 on its own, so one bad byte costs one
 * row. Blank lines are ignored; `\r\n` endings and a UTF-8 BOM are accepted.
 *
 * @param bytes the file contents
 * @param fileName name used in skip entries and errors, e.g. `"train.tsv"`
 * @throws {CommonVoiceFormatError} when the file is empty or its header is not UTF-8
 *
 * @example
 * ```ts
 * import { parseCommonVoiceTsv } from "./commonvoice.ts";
 * const text = 'client_id\tpath\tsentence\nab\tx.mp3\tHe said "hi".\n';
 * const t = parseCommonVoiceTsv(new TextEncoder().encode(text), "dev.tsv");
 * console.log(t.rows[0].fields.sentence); // He said "hi".
 * ```
 */
export function parseCommonVoiceTsv(bytes: Uint8Array, fileName: string): TsvTable {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const lines: { line: number; bytes: Uint8Array }[] = [];
  let start = 0, lineNo = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      if (end > start) lines.push({ line: lineNo, bytes: bytes.subarray(start, end) });
      start = i + 1;
      lineNo++;
    }
  }
  if (lines.length === 0) throw new CommonVoiceFormatError(fileName, "empty file (no header)");
  let headerText: string;
  try {
    headerText = decoder.decode(lines[0].bytes);
  } catch {
    throw new CommonVoiceFormatError(fileName, "header line is not valid UTF-8");
  }
  const header = headerText.replace(/^\uFEFF/, "").split("\t").map((h) => h.trim());
  const table: TsvTable = { header, rows: [], skipped: [] };
  for (const { line, bytes: lineBytes } of lines.slice(1)) {
    const name = `${fileName}:${line}`;
    let text: string;
    try {
      text = decoder.decode(lineBytes);
    } catch {
      table.skipped.push({ name, reason: "not valid UTF-8", kind: "invalid" });
      continue;
    }
    const values = text.split("\t");
    if (values.length !== header.length) {
      table.skipped.push({
        name,
        reason: `ragged row: ${values.length} fields, expected ${header.length}`,
        kind: "invalid",
      });
      continue;
    }
    const fields: Record<string, string> = {};
    header.forEach((h, i) => fields[h] = values[i]);
    table.rows.push({ line, fields });
  }
  return table;
}

/** Throws {@linkcode CommonVoiceFormatError} naming the first of `columns` not in `table`. */
function requireColumns(table: TsvTable, fileName: string, columns: string[]): void {
  for (const column of columns) {
    if (!table.header.includes(column)) {
      throw new CommonVoiceFormatError(
        fileName,
        `missing column "${column}" (header: ${table.header.join(", ")})`,
      );
    }
  }
}

/**
 * FNV-1a, 32-bit, over the UTF-8 bytes of `text`, then MurmurHash3's finaliser: FNV alone
 * leaves the high bits nearly unchanged between ids that differ in their last character
 * ("speaker-1", "speaker-2"), and the split reads the high bits.
 */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The split a speaker belongs to in a delta release (no train/dev/test TSVs): a hash of
 * `client_id`, so the answer depends on the speaker alone and never changes between runs.
 *
 * @example
 * ```ts
 * import { speakerSplit } from "./commonvoice.ts";
 * speakerSplit("4f1e..."); // "train" | "dev" | "test", the same every time
 * ```
 */
export function speakerSplit(
  clientId: string,
  options: SpeakerSplitOptions = {},
): "train" | "dev" | "test" {
  const dev = options.devFraction ?? 0.1;
  const test = options.testFraction ?? 0.1;
  if (!(dev >= 0 && test >= 0 && dev + test <= 1)) {
    throw new RangeError(`speakerSplit: bad fractions dev=${dev} test=${test}`);
  }
  const u = hash32(`${options.splitSalt ?? ""}\u0000${clientId}`) / 2 ** 32;
  return u < dev ? "dev" : u < dev + test ? "test" : "train";
}

/** Old releases (v1) list paths without an extension; CV clips are always MP3. */
function normaliseClipPath(path: string): string {
  return /\.[A-Za-z0-9]{2,4}$/.test(path) ? path : `${path}.mp3`;
}

/** Lexical check of a TSV `path`; returns why it is refused, or undefined when acceptable. */
function refusePath(path: string): string | undefined {
  if (path === "") return "empty path";
  if (path.includes("\0")) return "path contains a NUL byte";
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) {
    return "path outside clips/ (absolute path)";
  }
  if (path.split(/[\\/]/).includes("..")) return "path outside clips/ (contains '..')";
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function readDurations(
  dir: string,
  skipped: SkippedItem[],
): Promise<Map<string, number> | undefined> {
  const file = "clip_durations.tsv";
  const full = nodePath.join(dir, file);
  if (!(await exists(full))) return undefined;
  const table = parseCommonVoiceTsv(await Deno.readFile(full), file);
  requireColumns(table, file, ["clip", "duration[ms]"]);
  skipped.push(...table.skipped);
  const durations = new Map<string, number>();
  for (const { line, fields } of table.rows) {
    const ms = Number(fields["duration[ms]"]);
    if (fields["duration[ms]"].trim() === "" || !Number.isFinite(ms) || ms < 0) {
      skipped.push({ name: `${file}:${line}`, reason: "bad duration value", kind: "invalid" });
      continue;
    }
    durations.set(normaliseClipPath(fields.clip), ms / 1000);
  }
  return durations;
}

/** A whole vote count; `null` for an absent or empty field, NaN for anything else. */
function parseCount(value: string | undefined): number | null {
  if (value === undefined || value.trim() === "") return null;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : NaN;
}

/**
 * Read one split of a Common Voice language folder and check every row.
 *
 * `train`/`dev`/`test` come from their TSVs; when a release has none of them (a delta
 * release), they are drawn from `validated.tsv` by {@linkcode speakerSplit}. A row whose
 * `client_id` is empty is then placed by its `path` instead (speaker unknown).
 *
 * @param dir the language folder (holding `clips/` and the TSVs)
 * @param split which split to read
 * @param options filters and split settings
 * @throws {CommonVoiceFormatError} for a missing TSV column or unreadable header
 * @throws {Deno.errors.NotFound} when the split's TSV (and `validated.tsv`) are absent
 *
 * @example
 * ```ts
 * import { formatSkipSummary, readCommonVoiceSplit } from "./commonvoice.ts";
 * const { clips, skipped } = await readCommonVoiceSplit("audio/sample/en", "train", {
 *   minDurationSeconds: 1,
 *   maxDurationSeconds: 15,
 * });
 * console.log(clips.length, formatSkipSummary(skipped));
 * ```
 */
export async function readCommonVoiceSplit(
  dir: string,
  split: CommonVoiceSplit,
  options: ReadCommonVoiceOptions = {},
): Promise<CommonVoiceSplitResult> {
  const skipped: SkippedItem[] = [];
  const standard = ["train", "dev", "test"] as const;
  const present = await Promise.all(
    standard.map((s) => exists(nodePath.join(dir, `${s}.tsv`))),
  );
  let file = `${split}.tsv`;
  let hashSplit = false;
  if ((standard as readonly string[]).includes(split) && !present.some((p) => p)) {
    file = "validated.tsv";
    hashSplit = true;
  } else if ((standard as readonly string[]).includes(split) && !present.every((p) => p)) {
    const missing = standard.filter((_, i) => !present[i]).map((s) => `${s}.tsv`);
    throw new CommonVoiceFormatError(
      dir,
      `has some of train/dev/test.tsv but not ${missing.join(", ")}`,
    );
  }
  const tsvPath = nodePath.join(dir, file);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(tsvPath);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`${tsvPath}: no such split file in Common Voice folder`);
    }
    throw err;
  }
  const table = parseCommonVoiceTsv(bytes, file);
  requireColumns(table, file, ["client_id", "path", "sentence"]);
  if (options.minUpVotes !== undefined) requireColumns(table, file, ["up_votes"]);
  if (options.maxDownVotes !== undefined) requireColumns(table, file, ["down_votes"]);
  skipped.push(...table.skipped);

  const durations = await readDurations(dir, skipped);
  const clipsDir = nodePath.join(dir, "clips");
  let realClipsDir: string;
  try {
    realClipsDir = await Deno.realPath(clipsDir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`${clipsDir}: Common Voice folder has no clips/ folder`);
    }
    throw err;
  }
  const wantDuration = options.minDurationSeconds !== undefined ||
    options.maxDurationSeconds !== undefined;
  const seen = new Set<string>();
  const perSpeaker = new Map<string, number>();
  const clips: ClipRow[] = [];

  for (const { line, fields } of table.rows) {
    const rawPath = fields.path;
    const clientId = fields.client_id;
    if (hashSplit && speakerSplit(clientId || rawPath, options) !== split) continue;
    const refused = refusePath(rawPath);
    if (refused) {
      skipped.push({ name: rawPath || `${file}:${line}`, reason: refused, kind: "invalid" });
      continue;
    }
    const path = normaliseClipPath(rawPath);
    if (seen.has(path)) {
      skipped.push({ name: path, reason: `duplicate row (${file}:${line})`, kind: "invalid" });
      continue;
    }
    seen.add(path);

    const upVotes = parseCount(fields.up_votes);
    const downVotes = parseCount(fields.down_votes);
    if (Number.isNaN(upVotes) || Number.isNaN(downVotes)) {
      skipped.push({ name: path, reason: "vote count is not a whole number", kind: "invalid" });
      continue;
    }
    if (options.minUpVotes !== undefined && upVotes !== null && upVotes < options.minUpVotes) {
      skipped.push({
        name: path,
        reason: `up_votes ${upVotes} < ${options.minUpVotes}`,
        kind: "filtered",
      });
      continue;
    }
    if (
      options.maxDownVotes !== undefined && downVotes !== null &&
      downVotes > options.maxDownVotes
    ) {
      skipped.push({
        name: path,
        reason: `down_votes ${downVotes} > ${options.maxDownVotes}`,
        kind: "filtered",
      });
      continue;
    }

    // The file must exist and resolve (symlinks followed) to a plain file inside clips/.
    let audioPath: string;
    try {
      audioPath = await Deno.realPath(nodePath.join(clipsDir, path));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      skipped.push({ name: path, reason: "missing file", kind: "invalid" });
      continue;
    }
    if (!audioPath.startsWith(realClipsDir + nodePath.sep)) {
      skipped.push({ name: path, reason: "path outside clips/ (symlink)", kind: "invalid" });
      continue;
    }
    if (!(await Deno.stat(audioPath)).isFile) {
      skipped.push({ name: path, reason: "not a regular file", kind: "invalid" });
      continue;
    }

    let durationSeconds = durations?.get(path) ?? null;
    if (options.probeAudio || (wantDuration && durationSeconds === null)) {
      try {
        const probe = probeAudio(await Deno.readFile(audioPath), path);
        if (options.probeAudio && probe.truncation) {
          throw new AudioDecodeError(path, probe.truncation);
        }
        durationSeconds ??= probe.durationSeconds;
      } catch (err) {
        if (!(err instanceof AudioDecodeError)) throw err;
        skipped.push({ name: path, reason: err.reason, kind: "invalid" });
        continue;
      }
    }
    if (
      options.minDurationSeconds !== undefined && durationSeconds !== null &&
      durationSeconds < options.minDurationSeconds
    ) {
      skipped.push({
        name: path,
        reason: `duration ${durationSeconds.toFixed(2)} s < ${options.minDurationSeconds} s`,
        kind: "filtered",
      });
      continue;
    }
    if (
      options.maxDurationSeconds !== undefined && durationSeconds !== null &&
      durationSeconds > options.maxDurationSeconds
    ) {
      skipped.push({
        name: path,
        reason: `duration ${durationSeconds.toFixed(2)} s > ${options.maxDurationSeconds} s`,
        kind: "filtered",
      });
      continue;
    }
    if (options.maxClipsPerSpeaker !== undefined && clientId !== "") {
      const count = perSpeaker.get(clientId) ?? 0;
      if (count >= options.maxClipsPerSpeaker) {
        skipped.push({
          name: path,
          reason: `speaker already has ${options.maxClipsPerSpeaker} clips`,
          kind: "filtered",
        });
        continue;
      }
      perSpeaker.set(clientId, count + 1);
    }

    clips.push({
      clientId,
      path,
      audioPath,
      sentence: fields.sentence,
      sentenceId: fields.sentence_id ?? null,
      upVotes,
      downVotes,
      age: fields.age ?? "",
      gender: fields.gender ?? "",
      accents: fields.accents ?? fields.accent ?? "",
      variant: fields.variant ?? "",
      locale: fields.locale ?? "",
      segment: fields.segment ?? "",
      durationSeconds,
    });
  }
  return {
    clips,
    skipped,
    source: hashSplit ? "validated.tsv (speaker hash split)" : file,
  };
}

/**
 * One line naming what was skipped and why, e.g.
 * `skipped 3 clips: a.mp3 (missing file), train.tsv:7 (ragged row: 5 fields, expected 13), ...`.
 * At most `limit` items are named; the rest are counted.
 *
 * @example
 * ```ts
 * import { formatSkipSummary } from "./commonvoice.ts";
 * formatSkipSummary([{ name: "a.mp3", reason: "missing file", kind: "invalid" }]);
 * // "skipped 1 clip: a.mp3 (missing file)"
 * ```
 */
export function formatSkipSummary(skipped: readonly SkippedItem[], limit = 10): string {
  const noun = skipped.length === 1 ? "clip" : "clips";
  if (skipped.length === 0) return "skipped 0 clips";
  const named = skipped.slice(0, limit).map((s) => `${s.name} (${s.reason})`).join(", ");
  const rest = skipped.length > limit ? `, and ${skipped.length - limit} more` : "";
  return `skipped ${skipped.length} ${noun}: ${named}${rest}`;
}
