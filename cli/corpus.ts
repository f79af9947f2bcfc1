/**
 * `deno task corpus --data DIR... --out F.corpus.tsv [rules]`: writes a corpus list
 * (audio/corpus_list.ts) for every audio file under the folders, by the rules of
 * audio/corpus_rules.ts, with the command that made it in its first comment line, so a recipe's
 * split can be reviewed as data and regenerated. Prints files and seconds per split and per
 * folder, and the rules' warnings. Needs no GPU.
 * @module
 */
import * as nodePath from "node:path";
import { formatCorpusList } from "../audio/corpus_list.ts";
import { type CorpusPlan, planCorpus } from "../audio/corpus_rules.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { numberFlag, parseFlags, runCommand, UsageError } from "./args.ts";
import { shellWord } from "./permissions.ts";

const USAGE = `usage: deno task corpus --data DIR [--data DIR ...] --out FILE.corpus.tsv
                        [--exclude GLOB]... [--dev GLOB]... [--dev-rows F.tsv:FIRST-LAST]...
                        [--hold-out-speakers CORPUS:GLOB]... [--dev-fraction 0]
  --data               folders searched recursively for .wav .mp3 .flac .ogg .opus files
  --exclude            files never used (globs on the path under its --data folder; ** crosses /)
  --dev                files held out
  --dev-rows           rows of a Common Voice TSV held out (1-based), e.g.
                       commonvoice-en-v21-mini/validated.tsv:81-99
  --hold-out-speakers  speakers held out wherever they speak, e.g. 'librispeech:*0', 'vctk:p225'
  --dev-fraction       share of the remaining speakers (files, where unknown) held out by hash
  The rest is trained on; paths in the list are relative to its own folder.`;

/** A parsed corpus command line. */
export interface CorpusArgs {
  roots: string[];
  out: string;
  exclude: string[];
  dev: string[];
  devRows: string[];
  holdOutSpeakers: string[];
  devFraction: number;
}

/** Parses and checks the command line (throws UsageError before any work). */
export async function parseCorpusArgs(args: string[]): Promise<CorpusArgs> {
  const many = { type: "string" as const, multiple: true as const, default: [] as string[] };
  const values = parseFlags(args, {
    data: many,
    out: { type: "string" },
    exclude: many,
    dev: many,
    "dev-rows": many,
    "hold-out-speakers": many,
    "dev-fraction": { type: "string" },
  });
  if (values.data.length === 0) throw new UsageError("give at least one --data folder");
  if (!values.out) throw new UsageError("give --out FILE.corpus.tsv");
  for (const dir of values.data) {
    if (!(await Deno.stat(dir).catch(() => null))?.isDirectory) {
      throw new UsageError(`--data ${dir} is not a folder`);
    }
  }
  for (const s of values["hold-out-speakers"]) {
    if (!/^[^:]+:.+$/.test(s)) {
      throw new UsageError(
        `--hold-out-speakers '${s}': expected CORPUS:GLOB, e.g. 'librispeech:*0'`,
      );
    }
  }
  const devFraction = numberFlag("dev-fraction", values["dev-fraction"], { min: 0 }) ?? 0;
  if (devFraction > 1) throw new UsageError(`--dev-fraction must be at most 1, got ${devFraction}`);
  return {
    roots: values.data,
    out: values.out,
    exclude: values.exclude,
    dev: values.dev,
    devRows: values["dev-rows"],
    holdOutSpeakers: values["hold-out-speakers"],
    devFraction,
  };
}

/** Files and seconds per split, per folder and in all, as printable lines. */
export function summarizePlan(plan: CorpusPlan): string[] {
  const splits = ["train", "dev", "exclude"] as const;
  const table = new Map<string, Record<string, { files: number; seconds: number }>>();
  const add = (folder: string, split: string, seconds: number | null) => {
    if (!table.has(folder)) {
      table.set(folder, Object.fromEntries(splits.map((s) => [s, { files: 0, seconds: 0 }])));
    }
    const cell = table.get(folder)![split];
    cell.files++;
    cell.seconds += seconds ?? 0;
  };
  plan.entries.forEach((e, i) => {
    add(plan.folders[i], e.split, e.seconds);
    add("all", e.split, e.seconds);
  });
  const width = Math.max(6, ...[...table.keys()].map((k) => k.length));
  const cell = (c: { files: number; seconds: number }) =>
    `${String(c.files).padStart(5)} ${c.seconds.toFixed(1).padStart(8)} s`;
  const lines = [`${"folder".padEnd(width)}  ${splits.map((s) => s.padStart(16)).join("  ")}`];
  const folders = [...table.keys()].filter((k) => k !== "all").sort();
  for (const folder of [...folders, "all"]) {
    lines.push(
      `${folder.padEnd(width)}  ${splits.map((s) => cell(table.get(folder)![s])).join("  ")}`,
    );
  }
  return lines;
}

if (import.meta.main) {
  await runCommand("corpus", USAGE, async (run) => {
    const args = await parseCorpusArgs(Deno.args);
    run.writesTo(args.out);
    const plan = await planCorpus({ ...args }, args.out);
    const command = ["deno", "task", "corpus", ...Deno.args].map(shellWord).join(" ");
    const summary = summarizePlan(plan);
    await Deno.mkdir(nodePath.dirname(args.out), { recursive: true });
    await writeFileAtomic(
      args.out,
      formatCorpusList(plan.entries, [
        `corpus list written by: ${command}`,
        "(run from the project folder; paths below are relative to this file's folder)",
        "files and seconds per split:",
        ...summary.map((l) => `  ${l}`),
        ...plan.warnings.map((w) => `warning: ${w}`),
      ]),
    );
    for (const w of plan.warnings) console.error(`corpus: ${w}`);
    console.log(summary.join("\n"));
    console.log(`wrote ${plan.entries.length} files to ${args.out}`);
  });
}
