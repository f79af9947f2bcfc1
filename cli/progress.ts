/**
 * A one-line progress display for long jobs: a bar, counts, rates and ETA, redrawn in place on a
 * terminal and printed as plain lines (at most every few seconds) when stderr is not a TTY.
 * @module
 */

/** Renders `[#####-----]` for a fraction in [0, 1]. */
export function bar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
}

/** Formats seconds as `1h02m`, `3m05s` or `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A progress line on stderr. */
export class Progress {
  readonly #start = performance.now();
  readonly #tty = Deno.stderr.isTerminal();
  #lastPrint = 0;
  constructor(readonly label: string, readonly total: number) {}

  /** Redraws with `done` of `total` finished and extra fields (e.g. `"0.1 h audio"`). */
  update(done: number, extra: string[] = [], force = false): void {
    const now = performance.now();
    if (!force && !this.#tty && now - this.#lastPrint < 5000) return;
    this.#lastPrint = now;
    const elapsed = (now - this.#start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = done > 0 ? (this.total - done) / rate : Infinity;
    const line = `${this.label} ${bar(done / Math.max(1, this.total))} ${done}/${this.total} ` +
      [...extra, `${rate.toFixed(1)}/s`, `ETA ${formatDuration(eta)}`].join("  ");
    const text = this.#tty ? `\r\x1b[2K${line}` : `${line}\n`;
    Deno.stderr.writeSync(new TextEncoder().encode(text));
  }

  /** Ends the line. */
  done(done: number, extra: string[] = []): void {
    this.update(done, extra, true);
    if (this.#tty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
}
