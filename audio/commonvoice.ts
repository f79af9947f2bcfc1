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

/** The header of current releases (v17 on), in its order; for writing TSVs (tests, benches). */
export const CURRENT_HEADER: readonly string[] = [
  "client_id",
  "path",
  "sentence_id",
  "sentence",
  "sentence_domain",
  "up_votes",
  "down_votes",
  "age",
  "gender",
  "accents",
  "variant",
  "locale",
  "segment",
];

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

/**
 * Every reason a TSV line or a clip is left out, in the order they are checked, with its kind
 * (`invalid`: broken input; `filtered`: valid but excluded by a filter) and its wording: the one
 * place both are decided.
 */
export const SKIP_REASONS = {
  // a TSV line that cannot be read (parseCommonVoiceTsv, clip_durations.tsv)
  notUtf8: { kind: "invalid", text: () => "not valid UTF-8" },
  ragged: {
    kind: "invalid",
    text: (fields: number, expected: number) =>
      `ragged row: ${fields} fields, expected ${expected}`,
  },
  badDuration: { kind: "invalid", text: () => "bad duration value" },
  // the row's `path` (checkPath)
  emptyPath: { kind: "invalid", text: () => "empty path" },
  nulInPath: { kind: "invalid", text: () => "path contains a NUL byte" },
  absolutePath: { kind: "invalid", text: () => "path outside clips/ (absolute path)" },
  dotDotPath: { kind: "invalid", text: () => "path outside clips/ (contains '..')" },
  duplicate: { kind: "invalid", text: (at: string) => `duplicate row (${at})` },
  // votes (checkVotes)
  badVotes: { kind: "invalid", text: () => "vote count is not a whole number" },
  fewUpVotes: { kind: "filtered", text: (n: number, min: number) => `up_votes ${n} < ${min}` },
  manyDownVotes: { kind: "filtered", text: (n: number, max: number) => `down_votes ${n} > ${max}` },
  // the file (resolveClipFile, clipDuration)
  missingFile: { kind: "invalid", text: () => "missing file" },
  symlinkOutside: { kind: "invalid", text: () => "path outside clips/ (symlink)" },
  notAFile: { kind: "invalid", text: () => "not a regular file" },
  undecodable: { kind: "invalid", text: (why: string) => why },
  // filters on the clip (checkDuration, countSpeaker)
  tooShort: {
    kind: "filtered",
    text: (s: number, min: number) => `duration ${s.toFixed(2)} s < ${min} s`,
  },
  tooLong: {
    kind: "filtered",
    text: (s: number, max: number) => `duration ${s.toFixed(2)} s > ${max} s`,
  },
  speakerFull: { kind: "filtered", text: (max: number) => `speaker already has ${max} clips` },
} as const;

/** A key of {@link SKIP_REASONS}. */
export type SkipReason = keyof typeof SKIP_REASONS;

/** The {@link SkippedItem} for `name` left out for `reason` (its details as the table's text takes them). */
export function skip<R extends SkipReason>(
  name: string,
  reason: R,
  ...details: Parameters<(typeof SKIP_REASONS)[R]["text"]>
): SkippedItem {
  const { kind, text } = SKIP_REASONS[reason];
  return { name, reason: (text as (...a: unknown[]) => string)(...details), kind };
}

/** Whether `x` is a {@link SkippedItem} (rather than what was asked for). */
export function isSkip(x: unknown): x is SkippedItem {
  return typeof x === "object" && x !== null && "reason" in x && "kind" in x;
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
  const lines = [...byteLines(bytes)];
  if (lines.length === 0) throw new CommonVoiceFormatError(fileName, "empty file (no header)");
  const header = parseTsvHeader(lines[0].bytes, fileName);
  const table: TsvTable = { header, rows: [], skipped: [] };
  for (const { line, bytes: lineBytes } of lines.slice(1)) {
    const row = parseTsvRow(lineBytes, line, header, fileName);
    if (isSkip(row)) table.skipped.push(row);
    else table.rows.push(row);
  }
  return table;
}

/** One line of a TSV file: its 1-based number and its bytes (no `\n`, no trailing `\r`). */
export interface TsvLine {
  line: number;
  bytes: Uint8Array;
}

/** The non-blank lines of `bytes`, numbered from 1. */
function* byteLines(bytes: Uint8Array): Generator<TsvLine> {
  let start = 0, line = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      if (end > start) yield { line, bytes: bytes.subarray(start, end) };
      start = i + 1;
      line++;
    }
  }
}

/**
 * The non-blank lines of the file at `path`, read a chunk at a time (memory stays flat however
 * long the file is), with the numbering and line endings of {@linkcode parseCommonVoiceTsv}.
 */
export async function* readTsvLines(path: string): AsyncGenerator<TsvLine> {
  const file = await Deno.open(path);
  let carry = new Uint8Array(0);
  let line = 1;
  for await (const chunk of file.readable) {
    const buffer = new Uint8Array(carry.length + chunk.length);
    buffer.set(carry);
    buffer.set(chunk, carry.length);
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      if (buffer[i] !== 0x0a) continue;
      let end = i;
      if (end > start && buffer[end - 1] === 0x0d) end--;
      if (end > start) yield { line, bytes: buffer.slice(start, end) };
      start = i + 1;
      line++;
    }
    carry = buffer.slice(start);
  }
  let end = carry.length;
  if (end > 0 && carry[end - 1] === 0x0d) end--;
  if (end > 0) yield { line, bytes: carry.subarray(0, end) };
}

/** Strict UTF-8 (a bad byte throws); a BOM is removed by the header's parser. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The column names of a TSV header line (a UTF-8 BOM dropped, names trimmed).
 * @throws {CommonVoiceFormatError} when the line is not UTF-8
 */
export function parseTsvHeader(bytes: Uint8Array, fileName: string): string[] {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new CommonVoiceFormatError(fileName, "header line is not valid UTF-8");
  }
  return text.replace(/^\uFEFF/, "").split("\t").map((h) => h.trim());
}

/**
 * One TSV data line as a name→value record, or why it cannot be read (bad UTF-8, ragged),
 * named `file:LINE`.
 */
export function parseTsvRow(
  bytes: Uint8Array,
  line: number,
  header: readonly string[],
  fileName: string,
): TsvTable["rows"][number] | SkippedItem {
  const name = `${fileName}:${line}`;
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return skip(name, "notUtf8");
  }
  const values = text.split("\t");
  if (values.length !== header.length) return skip(name, "ragged", values.length, header.length);
  const fields: Record<string, string> = {};
  header.forEach((h, i) => fields[h] = values[i]);
  return { line, fields };
}

/** Throws {@linkcode CommonVoiceFormatError} naming the first of `columns` not in `header`. */
function requireColumns(header: readonly string[], fileName: string, columns: string[]): void {
  for (const column of columns) {
    if (!header.includes(column)) {
      throw new CommonVoiceFormatError(
        fileName,
        `missing column "${column}" (header: ${header.join(", ")})`,
      );
    }
  }
}

/**
 * FNV-1a, 32-bit, over the UTF-8 bytes of `text`, then MurmurHash3's finaliser: FNV alone
 * leaves the high bits nearly unchanged between ids that differ in their last character
 * ("speaker-1", "speaker-2"), and the split reads the high bits.
 */
export function hash32(text: string): number {
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

/** Lexical check of a TSV `path`: why it is refused, or undefined when acceptable. */
function refusePath(path: string): SkipReason | undefined {
  if (path === "") return "emptyPath";
  if (path.includes("\0")) return "nulInPath";
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) {
    return "absolutePath";
  }
  if (path.split(/[\\/]/).includes("..")) return "dotDotPath";
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
  const lines = readTsvLines(full);
  const first = await lines.next();
  if (first.done) throw new CommonVoiceFormatError(file, "empty file (no header)");
  const header = parseTsvHeader(first.value.bytes, file);
  requireColumns(header, file, ["clip", "duration[ms]"]);
  const durations = new Map<string, number>();
  for await (const { line, bytes } of lines) {
    const row = parseTsvRow(bytes, line, header, file);
    if (isSkip(row)) {
      skipped.push(row);
      continue;
    }
    const { fields } = row;
    const ms = Number(fields["duration[ms]"]);
    if (fields["duration[ms]"].trim() === "" || !Number.isFinite(ms) || ms < 0) {
      skipped.push(skip(`${file}:${line}`, "badDuration"));
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
  const clips: ClipRow[] = [];
  const skipped: SkippedItem[] = [];
  const listing = listCommonVoiceSplit(dir, split, options);
  let next = await listing.next();
  for (; !next.done; next = await listing.next()) {
    if (isSkip(next.value)) skipped.push(next.value);
    else clips.push(next.value);
  }
  return { clips, skipped, source: next.value };
}

/**
 * {@linkcode readCommonVoiceSplit} as a stream: each usable clip and each thing left out as it
 * is reached (the durations file's skips first, then the split's rows in TSV order), and at
 * the end where the rows came from. The TSV is read a chunk at a time, so a release's train
 * split of a million rows never sits in memory; what stays is one entry per row kept (its path,
 * to refuse a duplicate) and clip_durations.tsv's table. Stop early by leaving the loop.
 */
export async function* listCommonVoiceSplit(
  dir: string,
  split: CommonVoiceSplit,
  options: ReadCommonVoiceOptions = {},
): AsyncGenerator<ClipRow | SkippedItem, string> {
  const { file, hashSplit } = await splitFile(dir, split);
  const lines = await openSplitLines(dir, file);
  const first = await lines.next();
  if (first.done) throw new CommonVoiceFormatError(file, "empty file (no header)");
  const header = parseTsvHeader(first.value.bytes, file);
  requireColumns(header, file, ["client_id", "path", "sentence"]);
  if (options.minUpVotes !== undefined) requireColumns(header, file, ["up_votes"]);
  if (options.maxDownVotes !== undefined) requireColumns(header, file, ["down_votes"]);
  const durationSkips: SkippedItem[] = [];
  const ctx: RowContext = {
    split,
    file,
    hashSplit,
    options,
    durations: await readDurations(dir, durationSkips),
    clipsDir: nodePath.join(dir, "clips"),
    realClipsDir: await clipsFolder(dir),
    seen: new Set(),
    perSpeaker: new Map(),
  };
  yield* durationSkips;
  for await (const { line, bytes } of lines) {
    const row = parseTsvRow(bytes, line, header, file);
    if (isSkip(row)) {
      yield row;
      continue;
    }
    const checked = await checkRow(row, ctx);
    if (checked) yield checked;
  }
  return hashSplit ? "validated.tsv (speaker hash split)" : file;
}

/**
 * The TSV a split is read from: its own, or `validated.tsv` (split by speaker hash) in a delta
 * release that has none of train/dev/test. A release with only some of them is an error.
 */
async function splitFile(
  dir: string,
  split: CommonVoiceSplit,
): Promise<{ file: string; hashSplit: boolean }> {
  const standard: readonly string[] = ["train", "dev", "test"];
  if (!standard.includes(split)) return { file: `${split}.tsv`, hashSplit: false };
  const present = await Promise.all(standard.map((s) => exists(nodePath.join(dir, `${s}.tsv`))));
  if (!present.some((p) => p)) return { file: "validated.tsv", hashSplit: true };
  if (!present.every((p) => p)) {
    const missing = standard.filter((_, i) => !present[i]).map((s) => `${s}.tsv`);
    throw new CommonVoiceFormatError(
      dir,
      `has some of train/dev/test.tsv but not ${missing.join(", ")}`,
    );
  }
  return { file: `${split}.tsv`, hashSplit: false };
}

/** The lines of the split's TSV, read a chunk at a time (a missing file named). */
async function openSplitLines(dir: string, file: string): Promise<AsyncGenerator<TsvLine>> {
  const tsvPath = nodePath.join(dir, file);
  if (!(await exists(tsvPath))) {
    throw new Deno.errors.NotFound(`${tsvPath}: no such split file in Common Voice folder`);
  }
  return readTsvLines(tsvPath);
}

/** The real path of the folder's `clips/` (clips must resolve inside it). */
async function clipsFolder(dir: string): Promise<string> {
  const clipsDir = nodePath.join(dir, "clips");
  try {
    return await Deno.realPath(clipsDir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`${clipsDir}: Common Voice folder has no clips/ folder`);
    }
    throw err;
  }
}

/** What checking a row needs to know about the split, and what earlier rows left behind. */
interface RowContext {
  split: CommonVoiceSplit;
  file: string;
  hashSplit: boolean;
  options: ReadCommonVoiceOptions;
  /** From clip_durations.tsv, when the release has one. */
  durations: Map<string, number> | undefined;
  clipsDir: string;
  realClipsDir: string;
  /** Paths of the rows kept so far (a second row for one is a duplicate). */
  seen: Set<string>;
  /** Clips kept so far per client_id. */
  perSpeaker: Map<string, number>;
}

/**
 * One row through every check, in the order of {@link SKIP_REASONS}: the usable clip, why it
 * was left out, or null for a row of another split (speaker-hash split).
 */
async function checkRow(
  { line, fields }: TsvTable["rows"][number],
  ctx: RowContext,
): Promise<ClipRow | SkippedItem | null> {
  const clientId = fields.client_id;
  if (ctx.hashSplit && speakerSplit(clientId || fields.path, ctx.options) !== ctx.split) {
    return null;
  }
  const path = checkPath(fields.path, `${ctx.file}:${line}`, ctx.seen);
  if (isSkip(path)) return path;
  const votes = checkVotes(path, fields, ctx.options);
  if (isSkip(votes)) return votes;
  const audioPath = await resolveClipFile(path, ctx);
  if (isSkip(audioPath)) return audioPath;
  const durationSeconds = await clipDuration(path, audioPath, ctx);
  if (isSkip(durationSeconds)) return durationSeconds;
  const filtered = checkDuration(path, durationSeconds, ctx.options) ??
    countSpeaker(path, clientId, ctx);
  if (filtered) return filtered;
  return {
    clientId,
    path,
    audioPath,
    sentence: fields.sentence,
    sentenceId: fields.sentence_id ?? null,
    ...votes,
    age: fields.age ?? "",
    gender: fields.gender ?? "",
    accents: fields.accents ?? fields.accent ?? "",
    variant: fields.variant ?? "",
    locale: fields.locale ?? "",
    segment: fields.segment ?? "",
    durationSeconds,
  };
}

/** The row's clip path (`.mp3` added for old rows), refused when unsafe or seen before. */
function checkPath(rawPath: string, at: string, seen: Set<string>): string | SkippedItem {
  const refused = refusePath(rawPath);
  if (refused) return skip(rawPath || at, refused);
  const path = normaliseClipPath(rawPath);
  if (seen.has(path)) return skip(path, "duplicate", at);
  seen.add(path);
  return path;
}

/** The vote counts, refused when not whole numbers or outside the vote filters. */
function checkVotes(
  path: string,
  fields: Record<string, string>,
  options: CommonVoiceFilters,
): { upVotes: number | null; downVotes: number | null } | SkippedItem {
  const upVotes = parseCount(fields.up_votes);
  const downVotes = parseCount(fields.down_votes);
  if (Number.isNaN(upVotes) || Number.isNaN(downVotes)) return skip(path, "badVotes");
  const { minUpVotes, maxDownVotes } = options;
  if (minUpVotes !== undefined && upVotes !== null && upVotes < minUpVotes) {
    return skip(path, "fewUpVotes", upVotes, minUpVotes);
  }
  if (maxDownVotes !== undefined && downVotes !== null && downVotes > maxDownVotes) {
    return skip(path, "manyDownVotes", downVotes, maxDownVotes);
  }
  return { upVotes, downVotes };
}

/** The clip's real path: it must exist and resolve (symlinks followed) to a file in clips/. */
async function resolveClipFile(path: string, ctx: RowContext): Promise<string | SkippedItem> {
  // Nearly every row names a plain file right in clips/: one lstat settles it (a million rows
  // of a release's TSV then take one system call each). Symlinks and paths with folders take
  // the full check below.
  if (!/[\\/]/.test(path)) {
    let stat: Deno.FileInfo;
    try {
      stat = Deno.lstatSync(nodePath.join(ctx.clipsDir, path));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      return skip(path, "missingFile");
    }
    if (stat.isFile) return nodePath.join(ctx.realClipsDir, path);
  }
  let audioPath: string;
  try {
    audioPath = await Deno.realPath(nodePath.join(ctx.clipsDir, path));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return skip(path, "missingFile");
  }
  if (!audioPath.startsWith(ctx.realClipsDir + nodePath.sep)) return skip(path, "symlinkOutside");
  if (!(await Deno.stat(audioPath)).isFile) return skip(path, "notAFile");
  return audioPath;
}

/**
 * The clip's duration from clip_durations.tsv, or from its MP3 frame headers when probing or
 * when a duration filter needs one the TSV does not give (null: not looked up). A probe that
 * finds the file undecodable (or truncated, when probing) leaves it out.
 */
async function clipDuration(
  path: string,
  audioPath: string,
  ctx: RowContext,
): Promise<number | null | SkippedItem> {
  const { options } = ctx;
  const known = ctx.durations?.get(path) ?? null;
  const wantDuration = options.minDurationSeconds !== undefined ||
    options.maxDurationSeconds !== undefined;
  if (!options.probeAudio && !(wantDuration && known === null)) return known;
  try {
    const probe = probeAudio(await Deno.readFile(audioPath), path);
    if (options.probeAudio && probe.truncation) {
      throw new AudioDecodeError(path, probe.truncation);
    }
    return known ?? probe.durationSeconds;
  } catch (err) {
    if (!(err instanceof AudioDecodeError)) throw err;
    return skip(path, "undecodable", err.reason);
  }
}

/** Leaves out a clip outside the duration filters (one of unknown duration is kept). */
function checkDuration(
  path: string,
  seconds: number | null,
  options: CommonVoiceFilters,
): SkippedItem | undefined {
  const { minDurationSeconds: min, maxDurationSeconds: max } = options;
  if (seconds === null) return undefined;
  if (min !== undefined && seconds < min) return skip(path, "tooShort", seconds, min);
  if (max !== undefined && seconds > max) return skip(path, "tooLong", seconds, max);
  return undefined;
}

/** Counts the clip for its speaker; leaves it out once the speaker has its maximum. */
function countSpeaker(path: string, clientId: string, ctx: RowContext): SkippedItem | undefined {
  const max = ctx.options.maxClipsPerSpeaker;
  if (max === undefined || clientId === "") return undefined;
  const count = ctx.perSpeaker.get(clientId) ?? 0;
  if (count >= max) return skip(path, "speakerFull", max);
  ctx.perSpeaker.set(clientId, count + 1);
  return undefined;
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
