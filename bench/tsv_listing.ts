/**
 * Lists one split of a Common Voice folder the way `prepare` reads it (every row checked: path,
 * file, duration filter 0.3–20 s) and prints the rows a second and the process's memory, as one
 * JSON line. The TSV is streamed (audio/commonvoice.ts's `listCommonVoiceSplit`), so memory
 * grows only by what is kept per row (its path, to refuse duplicates; clip_durations.tsv's
 * table), never by the file.
 *
 *   deno run --allow-read bench/tsv_listing.ts CV_DIR [SPLIT]
 * @module
 */
import { isSkip, listCommonVoiceSplit } from "../audio/commonvoice.ts";

const [dir, split = "train"] = Deno.args;
if (!dir) {
  console.error("usage: bench/tsv_listing.ts CV_DIR [SPLIT]");
  Deno.exit(64);
}
const t0 = performance.now();
let clips = 0, skipped = 0, peakRss = 0;
const listing = listCommonVoiceSplit(dir, split as "train", {
  minDurationSeconds: 0.3,
  maxDurationSeconds: 20,
});
for await (const row of listing) {
  if (isSkip(row)) skipped++;
  else clips++;
  if ((clips + skipped) % 50_000 === 0) peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
}
const seconds = (performance.now() - t0) / 1000;
peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
console.log(JSON.stringify({
  rows: clips + skipped,
  clips,
  skipped,
  seconds,
  rowsPerSecond: (clips + skipped) / seconds,
  rssMB: peakRss / 2 ** 20,
}));
