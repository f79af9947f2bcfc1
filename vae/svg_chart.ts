/**
 * Line charts as standalone SVG strings, for the training report: axes with "nice" ticks,
 * a legend, one polyline per unbroken run of finite points. Pure string building, no DOM.
 * @module
 */

/** One line of a chart. */
export interface ChartSeries {
  /** Legend label (escaped on output). */
  name: string;
  /** `[x, y]` pairs in drawing order; a non-finite value (or y ≤ 0 on a log axis) breaks the line. */
  points: [number, number][];
  /** Any CSS colour; default from a ten-colour palette. */
  color?: string;
}

/** Options for {@linkcode lineChart}. */
export interface LineChartOptions {
  title: string;
  series: ChartSeries[];
  xLabel: string;
  yLabel: string;
  /** Logarithmic y axis (base 10); points with y ≤ 0 are dropped. */
  logY?: boolean;
  /** Total width in pixels (default 640). */
  width?: number;
  /** Total height in pixels (default 320). */
  height?: number;
  /** Series longer than this are averaged into this many buckets (default 1500). */
  maxPoints?: number;
  /**
   * Fixed y-axis range (linear axes only), e.g. to keep an early transient from flattening the
   * rest; lines outside it are clipped at the plot's edge.
   */
  yRange?: [number, number];
}

/** Tableau's ten categorical colours (matplotlib's default cycle). */
export const PALETTE: readonly string[] = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/**
 * Escape text for XML/HTML content and attribute values.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./svg_chart.ts";
 * escapeXml(`a<b & "c"`); // "a&lt;b &amp; &quot;c&quot;"
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/**
 * Round `x` to 1, 2, 5 or 10 times a power of ten (Heckbert's "nice numbers").
 * @param round round to the nearest (true) or take the next one up (false)
 */
function niceNumber(x: number, round: boolean): number {
  const exp = Math.floor(Math.log10(x));
  const f = x / 10 ** exp;
  const nice = round
    ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10)
    : (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
  return nice * 10 ** exp;
}

/**
 * About `count` evenly spaced round tick values covering [lo, hi] (lo ≤ hi, both finite).
 *
 * @example
 * ```ts
 * import { niceTicks } from "./svg_chart.ts";
 * niceTicks(0, 97, 5); // [0, 20, 40, 60, 80, 100]
 * ```
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceNumber(niceNumber(hi - lo, false) / Math.max(1, count - 1), true);
  const first = Math.floor(lo / step), last = Math.ceil(hi / step);
  const ticks: number[] = [];
  // integer multiples of the step, snapped so 3 * 0.1 prints as 0.3
  for (let k = first; k <= last && ticks.length <= 50; k++) {
    ticks.push(Number((k * step).toPrecision(12)));
  }
  return ticks;
}

/** Ticks for a log10 axis over [lo, hi] (both > 0): decades, or 1-2-5 steps inside few decades. */
function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  if (b - a >= 3) {
    const every = Math.ceil((b - a) / 8);
    const ticks: number[] = [];
    for (let e = a; e <= b; e += every) ticks.push(10 ** e);
    return ticks;
  }
  const ticks: number[] = [];
  const mantissas = b - a <= 1 ? [1, 1.5, 2, 3, 5, 7] : [1, 2, 5];
  for (let e = a; e <= b; e++) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** e).toPrecision(6));
      if (v >= lo / 1.0001 && v <= hi * 1.0001) ticks.push(v);
    }
  }
  // keep the endpoints as ticks so the axis is labelled even inside a narrow range
  if (ticks.length < 2) return [lo, hi];
  return ticks;
}

/**
 * A short label for a tick or table value: integers as is (with k/M above 10⁴), otherwise
 * four significant digits, exponent form for very large or small magnitudes.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./svg_chart.ts";
 * formatNumber(25000); // "25k"
 * formatNumber(0.000123); // "1.23e-4"
 * ```
 */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (Number.isInteger(v) && a >= 1e4 && a < 1e9) {
    return a >= 1e6
      ? `${Number((v / 1e6).toPrecision(3))}M`
      : `${Number((v / 1e3).toPrecision(3))}k`;
  }
  if (a >= 1e6 || a < 1e-3) {
    const [m, e] = v.toExponential(2).split("e");
    return `${Number(m)}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** Average long series into `max` buckets so a 100k-step run stays a small SVG. */
function downsample(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const out: [number, number][] = [];
  const size = points.length / max;
  for (let b = 0; b < max; b++) {
    const start = Math.floor(b * size), end = Math.floor((b + 1) * size);
    let sx = 0, sy = 0, n = 0, broken = false;
    for (let i = start; i < end; i++) {
      const [x, y] = points[i];
      if (Number.isFinite(x) && Number.isFinite(y)) {
        sx += x;
        sy += y;
        n++;
      } else broken = true;
    }
    if (n > 0) out.push([sx / n, sy / n]);
    // keep a break where the bucket held a divergence, so NaN steps are not smoothed away
    if (broken) out.push([NaN, NaN]);
  }
  return out;
}

/**
 * Render a line chart as a standalone SVG document string.
 *
 * Non-finite points break a line into separate `<polyline>`s (an isolated point is drawn as a
 * dot); a chart with no finite point shows its axes and "no data". Text is escaped.
 *
 * @example
 * ```ts
 * import { lineChart } from "./svg_chart.ts";
 * const svg = lineChart({
 *   title: "loss",
 *   series: [{ name: "train", points: [[0, 3], [1, 2], [2, NaN], [3, 1]] }],
 *   xLabel: "step",
 *   yLabel: "nats",
 * });
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 640, height = options.height ?? 320;
  const logY = options.logY ?? false;
  const maxPoints = options.maxPoints ?? 1500;
  const series = options.series.map((s, i) => ({
    name: s.name,
    color: s.color ?? PALETTE[i % PALETTE.length],
    points: downsample(s.points, maxPoints).map(([x, y]): [number, number] =>
      logY && !(y > 0) ? [x, NaN] : [x, y]
    ),
  }));

  // data ranges over finite points only
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      x0 = Math.min(x0, x), x1 = Math.max(x1, x);
      y0 = Math.min(y0, y), y1 = Math.max(y1, y);
    }
  }
  const hasData = x0 <= x1;
  const fixedY = !logY && options.yRange && options.yRange[0] < options.yRange[1];
  if (hasData && fixedY) [y0, y1] = options.yRange!;
  if (!hasData) {
    x0 = 0, x1 = 1;
    y0 = logY ? 1 : 0, y1 = logY ? 10 : 1;
  }

  const xTicks = niceTicks(x0, x1, 6);
  const xLo = Math.min(x0, xTicks[0]), xHi = Math.max(x1, xTicks[xTicks.length - 1]);
  let yTicks: number[], yLo: number, yHi: number;
  if (logY) {
    if (y1 / y0 < 1.0001) y0 /= 1.5, y1 *= 1.5;
    yTicks = logTicks(y0, y1);
    yLo = Math.log10(Math.min(y0, yTicks[0]));
    yHi = Math.log10(Math.max(y1, yTicks[yTicks.length - 1]));
  } else {
    yTicks = niceTicks(y0, y1, 6);
    yLo = Math.min(y0, yTicks[0]);
    yHi = Math.max(y1, yTicks[yTicks.length - 1]);
  }
  const yLabels = yTicks.map(formatNumber);
  const charW = 6.6; // mean glyph width of 11px sans-serif, for layout without a DOM

  // legend laid out in rows under the title
  const legendItems: { x: number; row: number; name: string; color: string }[] = [];
  const legendLeft = 12;
  let lx = legendLeft, row = 0;
  for (const s of series) {
    const w = 26 + s.name.length * charW + 16;
    if (lx + w > width - 8 && lx > legendLeft) lx = legendLeft, row++;
    legendItems.push({ x: lx, row, name: s.name, color: s.color });
    lx += w;
  }
  const legendRows = series.length > 0 ? row + 1 : 0;

  const left = 18 + Math.max(...yLabels.map((l) => l.length)) * charW + 8;
  const top = 28 + legendRows * 16 + 6, right = 16, bottom = 44;
  const plotW = Math.max(10, width - left - right), plotH = Math.max(10, height - top - bottom);
  const px = (x: number) => left + ((x - xLo) / (xHi - xLo || 1)) * plotW;
  const py = (y: number) => {
    const v = logY ? Math.log10(y) : y;
    return top + plotH - ((v - yLo) / (yHi - yLo || 1)) * plotH;
  };
  const r = (v: number) => Math.round(v * 10) / 10;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
  );
  out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(
    `<text x="${r(width / 2)}" y="18" text-anchor="middle" font-size="14" font-weight="600">` +
      `${escapeXml(options.title)}</text>`,
  );
  for (const item of legendItems) {
    const y = 30 + item.row * 16;
    out.push(
      `<g class="legend-item"><line x1="${r(item.x)}" y1="${y}" x2="${r(item.x + 20)}" ` +
        `y2="${y}" stroke="${escapeXml(item.color)}" stroke-width="2.5"/>` +
        `<text x="${r(item.x + 25)}" y="${y + 4}">${escapeXml(item.name)}</text></g>`,
    );
  }

  // grid and ticks
  out.push(`<g class="axis x-axis">`);
  for (const t of xTicks) {
    if (t < xLo || t > xHi) continue;
    const x = r(px(t));
    out.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${r(top + plotH)}" stroke="#eee"/>` +
        `<line x1="${x}" y1="${r(top + plotH)}" x2="${x}" y2="${r(top + plotH + 4)}" ` +
        `stroke="#444"/><text class="tick" x="${x}" y="${r(top + plotH + 16)}" ` +
        `text-anchor="middle">${escapeXml(formatNumber(t))}</text>`,
    );
  }
  out.push(`</g><g class="axis y-axis">`);
  yTicks.forEach((t, i) => {
    const y = r(py(t));
    out.push(
      `<line x1="${r(left)}" y1="${y}" x2="${r(left + plotW)}" y2="${y}" stroke="#eee"/>` +
        `<line x1="${r(left - 4)}" y1="${y}" x2="${r(left)}" y2="${y}" stroke="#444"/>` +
        `<text class="tick" x="${r(left - 7)}" y="${r(y + 4)}" text-anchor="end">` +
        `${escapeXml(yLabels[i])}</text>`,
    );
  });
  out.push(`</g>`);
  out.push(
    `<rect x="${r(left)}" y="${top}" width="${r(plotW)}" height="${r(plotH)}" fill="none" ` +
      `stroke="#444"/>`,
  );
  out.push(
    `<text x="${r(left + plotW / 2)}" y="${height - 8}" text-anchor="middle">` +
      `${escapeXml(options.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(12 ${r(top + plotH / 2)}) rotate(-90)" text-anchor="middle">` +
      `${escapeXml(options.yLabel)}</text>`,
  );

  // lines: the axis ranges cover every finite point, unless a fixed yRange asks for clipping
  if (fixedY) {
    const id = `clip-${options.title.replace(/[^A-Za-z0-9]+/g, "-")}`;
    out.push(
      `<clipPath id="${id}"><rect x="${r(left)}" y="${top}" width="${r(plotW)}" ` +
        `height="${r(plotH)}"/></clipPath>`,
    );
    out.push(`<g class="lines" clip-path="url(#${id})">`);
  } else out.push(`<g class="lines">`);
  for (const s of series) {
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    const color = escapeXml(s.color);
    let run: string[] = [];
    const flush = () => {
      if (run.length === 1) {
        const [x, y] = run[0].split(",");
        out.push(`<circle cx="${x}" cy="${y}" r="2" fill="${color}"/>`);
      } else if (run.length > 1) {
        out.push(
          `<polyline fill="none" stroke="${color}" stroke-width="1.6" stroke-linejoin="round" ` +
            `points="${run.join(" ")}"/>`,
        );
      }
      run = [];
    };
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(y)) run.push(`${r(px(x))},${r(py(y))}`);
      else flush();
    }
    flush();
    out.push(`</g>`);
  }
  out.push(`</g>`);
  if (!hasData) {
    out.push(
      `<text x="${r(left + plotW / 2)}" y="${r(top + plotH / 2)}" text-anchor="middle" ` +
        `fill="#888">no data</text>`,
    );
  }
  out.push(`</svg>`);
  return out.join("\n");
}
