/**
 * A synthetic Common Voice language folder at the scale of a real release, for bench/scale.ts:
 * `clips/` holds `rows` MP3 names that are hard links to a few real clips (copied once into the
 * folder: the Common Voice reader refuses symlinks that lead outside `clips/`), `train.tsv` has
 * `rows` rows (the v17 header, 5,000 speakers), `dev.tsv` and `test.tsv` a few, and
 * `clip_durations.tsv` every clip's duration, as current releases ship it. Hard links cost a
 * directory entry each, not the audio: a million of them take about 100 MB of disk.
 *
 *   deno run --allow-read --allow-write=/tmp bench/scale_corpus.ts OUT_DIR [ROWS] [SOURCE_DIR]
 *
 * SOURCE_DIR is a Common Voice folder whose validated clips are linked (default: the real CV
 * mini set in ../shared). Deno-only.
 * @module
 */
import * as nodePath from "node:path";
import { CURRENT_HEADER, readCommonVoiceSplit } from "../audio/commonvoice.ts";

/** The default source of real clips: the Common Voice mini set. */
export const REAL_CV = new URL("../../shared/data/speech/commonvoice-en-v21-mini/", import.meta.url)
  .pathname;

/** What {@link makeScaleCorpus} made. */
export interface ScaleCorpus {
  dir: string;
  rows: number;
  /** Real clips linked over and over, and their mean duration. */
  sources: number;
  meanSeconds: number;
}

/** Writes `text` pieces to `path` through one buffered stream. */
async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let chunk = "";
  for (const line of lines) {
    chunk += line;
    if (chunk.length > 1 << 20) {
      await file.write(encoder.encode(chunk));
      chunk = "";
    }
  }
  await file.write(encoder.encode(chunk));
  file.close();
}

/** Builds the folder (see the module comment); `dir` must not exist yet. */
export async function makeScaleCorpus(
  dir: string,
  rows: number,
  source = REAL_CV,
): Promise<ScaleCorpus> {
  const { clips: real } = await readCommonVoiceSplit(source, "validated", { probeAudio: true });
  if (real.length === 0) throw new Error(`${source}: no usable clips to link`);
  await Deno.mkdir(nodePath.join(dir, "clips"), { recursive: true });
  const originals = real.map((_, i) => nodePath.join(dir, "clips", `source_${i}.mp3`));
  await Promise.all(real.map((c, i) => Deno.copyFile(c.audioPath, originals[i])));
  const name = (i: number) => `common_voice_en_${String(10_000_000 + i)}.mp3`;
  for (let i = 0; i < rows; i += 1000) {
    const links: Promise<void>[] = [];
    for (let j = i; j < Math.min(rows, i + 1000); j++) {
      links.push(Deno.link(originals[j % real.length], nodePath.join(dir, "clips", name(j))));
    }
    await Promise.all(links);
  }
  const speaker = (i: number) => (((i * 2654435761) >>> 0) % 5000).toString(16).padStart(128, "a");
  const row = (i: number) =>
    [
      speaker(i),
      name(i),
      (i * 7919).toString(16),
      `Synthetic sentence number ${i}, spoken "as written".`,
      "",
      String(2 + (i % 3)),
      String(i % 2),
      ["", "twenties", "thirties"][i % 3],
      ["", "male_masculine", "female_feminine"][i % 3],
      "",
      "",
      "en",
      "",
    ].join("\t") + "\n";
  function* table(from: number, to: number) {
    yield CURRENT_HEADER.join("\t") + "\n";
    for (let i = from; i < to; i++) yield row(i);
  }
  await writeLines(nodePath.join(dir, "train.tsv"), table(0, rows));
  // Small dev and test splits over the same files (a release's layout; not used by the bench).
  await writeLines(nodePath.join(dir, "dev.tsv"), table(0, Math.min(rows, 100)));
  await writeLines(nodePath.join(dir, "test.tsv"), table(0, Math.min(rows, 100)));
  const durationsMs = real.map((c) => Math.round((c.durationSeconds ?? 5) * 1000));
  function* durations() {
    yield "clip\tduration[ms]\n";
    for (let i = 0; i < rows; i++) yield `${name(i)}\t${durationsMs[i % real.length]}\n`;
  }
  await writeLines(nodePath.join(dir, "clip_durations.tsv"), durations());
  const meanSeconds = durationsMs.reduce((a, b) => a + b, 0) / durationsMs.length / 1000;
  return { dir, rows, sources: real.length, meanSeconds };
}

if (import.meta.main) {
  const [dir, rows = "1000000", source] = Deno.args;
  if (!dir) {
    console.error("usage: bench/scale_corpus.ts OUT_DIR [ROWS] [SOURCE_DIR]");
    Deno.exit(64);
  }
  const t0 = performance.now();
  const made = await makeScaleCorpus(dir, Number(rows), source);
  console.log(
    `${made.dir}: ${made.rows} rows over ${made.sources} real clips (mean ${
      made.meanSeconds.toFixed(2)
    } s) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
