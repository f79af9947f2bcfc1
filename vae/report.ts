/**
 * The training report: one self-contained HTML page written beside a checkpoint, with loss
 * curves as inline SVG, input and reconstructed log-mel spectrograms as PNG data URLs, audio
 * players with WAV data URLs, the run config and the eval numbers. It opens offline: nothing
 * is fetched. Pure: {@linkcode renderReport} returns the page as a string, the caller writes it.
 * @module
 */

import { encodeWav } from "../audio/wav.ts";
import { finiteRange, magma, melToPng } from "./png.ts";
import { escapeXml, formatNumber, lineChart } from "./svg_chart.ts";

/** Training metrics logged at one step (losses in nats per frame, or whatever the run uses). */
export interface TrainPoint {
  step: number;
  elbo: number;
  recon: number;
  kl: number;
  /** Latent dimensions whose KL is above the "active" threshold. */
  activeDims?: number;
  framesPerSecond?: number;
}

/** Eval metrics at one step, e.g. `{ step: 1000, "dev/elbo": 41.2 }`. */
export interface EvalPoint {
  step: number;
  [metric: string]: number;
}

/** One dev clip: its log-mel, the model's reconstruction, and optionally both as audio. */
export interface ReportExample {
  name: string;
  nMels: number;
  frames: number;
  /** `[frames, nMels]` row-major. */
  inputMel: Float32Array;
  /** `[frames, nMels]` row-major. */
  reconMel: Float32Array;
  originalAudio?: Float32Array;
  /** The reconstruction through Griffin-Lim. */
  reconAudio?: Float32Array;
  /** The reconstruction through the neural vocoder, shown beside Griffin-Lim's when given. */
  vocoderAudio?: Float32Array;
  sampleRate: number;
}

/** One sample decoded from the prior. */
export interface ReportSample {
  name: string;
  nMels: number;
  frames: number;
  /** `[frames, nMels]` row-major. */
  mel: Float32Array;
  /** Through Griffin-Lim. */
  audio?: Float32Array;
  /** Through the neural vocoder, shown beside Griffin-Lim's when given. */
  vocoderAudio?: Float32Array;
  sampleRate: number;
}

/** Everything the report shows. The caller keeps clip counts small: audio is inlined. */
export interface ReportData {
  title: string;
  /** Shown as given (e.g. an ISO date); the renderer reads no clock. */
  createdAt: string;
  checkpoint: string;
  step: number;
  /** The run config (any JSON-serialisable value). */
  config: unknown;
  train: TrainPoint[];
  evals: EvalPoint[];
  /** Eval numbers per split: `{ dev: { elbo: 41.2, recon: 30.1 }, test: {...} }`. */
  evalTable: Record<string, Record<string, number>>;
  examples: ReportExample[];
  samples: ReportSample[];
  notes?: string[];
}

const esc = escapeXml;

/**
 * Base64 of `bytes` (RFC 4648, with padding), through the web-standard `btoa`.
 *
 * @example
 * ```ts
 * import { toBase64 } from "./report.ts";
 * toBase64(new TextEncoder().encode("hi")); // "aGk="
 * ```
 */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  // String.fromCharCode takes its bytes as arguments, so go in chunks well under the arg limit
  for (let i = 0; i < bytes.length; i += 0x8000) {
    parts.push(String.fromCharCode(...bytes.subarray(i, i + 0x8000)));
  }
  return btoa(parts.join(""));
}

export async function melImage(
  mel: Float32Array,
  frames: number,
  nMels: number,
  range: [number, number],
  alt: string,
): Promise<string> {
  if (frames === 0 || nMels === 0) return `<div class="empty">no frames</div>`;
  const png = await melToPng(mel, frames, nMels, { vmin: range[0], vmax: range[1] });
  return `<img class="mel" alt="${esc(alt)}" src="data:image/png;base64,${toBase64(png)}">`;
}

export function audioPlayer(
  label: string,
  audio: Float32Array | undefined,
  sampleRate: number,
): string {
  if (!audio || audio.length === 0) return "";
  const wav = encodeWav(audio, sampleRate); // 16-bit PCM: half the size of float
  const seconds = (audio.length / sampleRate).toFixed(2);
  return `<figure class="player"><figcaption>${esc(label)} <span class="dim">${seconds} s` +
    `</span></figcaption><audio controls preload="metadata" ` +
    `src="data:audio/wav;base64,${toBase64(wav)}"></audio></figure>`;
}

/** A CSS gradient of the magma colormap and the value range it spans, as a colour key. */
export function colorKey(range: [number, number]): string {
  const stops = Array.from({ length: 9 }, (_, i) => {
    const [r, g, b] = magma(i / 8);
    return `rgb(${r},${g},${b}) ${i * 12.5}%`;
  });
  return `<div class="colorkey"><span>log-mel ${esc(formatNumber(range[0]))}</span>` +
    `<span class="bar" style="background:linear-gradient(to right,${stops.join(",")})"></span>` +
    `<span>${esc(formatNumber(range[1]))}</span></div>`;
}

function formatCell(v: unknown): string {
  if (typeof v === "number") return String(v); // config values exact, not rounded
  if (typeof v === "string") return v;
  return safeJson(v, 0);
}

function safeJson(value: unknown, indent: number): string {
  try {
    return JSON.stringify(
      value,
      (_k, v) => typeof v === "bigint" ? v.toString() : v,
      indent,
    ) ?? String(value);
  } catch (e) {
    return `(not serialisable: ${e instanceof Error ? e.message : String(e)})`;
  }
}

/** Flatten a config object to `a.b.c → value` rows; arrays and scalars are leaves. */
function flattenConfig(value: unknown, prefix = "", rows: [string, unknown][] = []) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) rows.push([prefix, {}]);
    for (const [k, v] of entries) flattenConfig(v, prefix ? `${prefix}.${k}` : k, rows);
  } else {
    rows.push([prefix || "(value)", value]);
  }
  return rows;
}

export function configSection(config: unknown): string {
  if (config === undefined || config === null) return `<p class="dim">no config recorded</p>`;
  const rows = flattenConfig(config).map(([k, v]) =>
    `<tr><th>${esc(k)}</th><td><code>${esc(formatCell(v))}</code></td></tr>`
  );
  return `<div class="scroll"><table class="kv">${rows.join("")}</table></div>` +
    `<details><summary>JSON</summary><pre>${esc(safeJson(config, 2))}</pre></details>`;
}

export function evalTableSection(table: Record<string, Record<string, number>>): string {
  const splits = Object.keys(table);
  if (splits.length === 0) return `<p class="dim">no eval numbers</p>`;
  const metrics: string[] = [];
  for (const s of splits) {
    for (const m of Object.keys(table[s])) {
      if (!metrics.includes(m)) {
        metrics.push(m);
      }
    }
  }
  const head = `<tr><th>split</th>${metrics.map((m) => `<th>${esc(m)}</th>`).join("")}</tr>`;
  const body = splits.map((s) =>
    `<tr><th>${esc(s)}</th>${
      metrics.map((m) => {
        const v = table[s][m];
        return `<td class="num" title="${esc(String(v))}">${
          v === undefined ? "–" : esc(formatNumber(v))
        }</td>`;
      }).join("")
    }</tr>`
  );
  return `<table class="grid">${head}${body.join("")}</table>`;
}

function chartsSection(train: TrainPoint[], evals: EvalPoint[]): string {
  const charts: string[] = [];
  const series = (key: "elbo" | "recon" | "kl") =>
    train.map((p): [number, number] => [p.step, p[key]]);
  const losses = [
    { name: "ELBO loss", points: series("elbo") },
    { name: "reconstruction", points: series("recon") },
    { name: "KL", points: series("kl") },
  ];
  // log y when every finite loss is positive: KL and recon are often orders of magnitude apart
  const values = losses.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  const logY = values.length > 0 && values.every((v) => v > 0);
  charts.push(lineChart({
    title: "Training loss",
    series: losses,
    xLabel: "step",
    yLabel: logY ? "loss (log scale)" : "loss",
    logY,
    yRange: logY ? undefined : robustRange(losses.map((s) => s.points)),
    width: 720,
    height: 340,
  }));
  if (train.some((p) => p.activeDims !== undefined)) {
    charts.push(lineChart({
      title: "Active latent dimensions",
      series: [{
        name: "active dims",
        color: "#2ca02c",
        points: train.map((p) => [p.step, p.activeDims ?? NaN]),
      }],
      xLabel: "step",
      yLabel: "dims",
      width: 480,
      height: 300,
    }));
  }
  if (train.some((p) => p.framesPerSecond !== undefined)) {
    charts.push(lineChart({
      title: "Throughput",
      series: [{
        name: "frames/s",
        color: "#9467bd",
        points: train.map((p) => [p.step, p.framesPerSecond ?? NaN]),
      }],
      xLabel: "step",
      yLabel: "frames per second",
      width: 480,
      height: 300,
    }));
  }
  // one eval chart per metric: metrics need not share a scale
  const metrics: string[] = [];
  for (const e of evals) {
    for (const k of Object.keys(e)) if (k !== "step" && !metrics.includes(k)) metrics.push(k);
  }
  for (const [i, m] of metrics.entries()) {
    charts.push(lineChart({
      title: `Eval: ${m}`,
      series: [{
        name: m,
        color: ["#d62728", "#1f77b4", "#ff7f0e", "#8c564b"][i % 4],
        points: evals.map((e) => [e.step, e[m] ?? NaN]),
      }],
      xLabel: "step",
      yLabel: m,
      width: 480,
      height: 300,
    }));
  }
  return `<div class="charts">${charts.map((c) => `<div class="chart">${c}</div>`).join("")}</div>`;
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let s = 0, n = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isFinite(d)) s += d, n++;
  }
  return n ? s / n : NaN;
}

async function exampleSection(ex: ReportExample): Promise<string> {
  // one colour scale per clip, set by the input, so the reconstruction is judged against it
  const range = finiteRange(ex.inputMel);
  const players = [
    audioPlayer("original", ex.originalAudio, ex.sampleRate),
    audioPlayer(
      ex.vocoderAudio ? "reconstruction, Griffin-Lim" : "reconstruction",
      ex.reconAudio,
      ex.sampleRate,
    ),
    audioPlayer("reconstruction, vocoder", ex.vocoderAudio, ex.sampleRate),
  ].join("");
  return `<article class="example"><h3>${esc(ex.name)} <span class="dim">${ex.frames} frames × ` +
    `${ex.nMels} mels · mel L1 ${
      esc(formatNumber(meanAbsDiff(ex.inputMel, ex.reconMel)))
    }</span></h3>` +
    `<div class="pair"><figure><figcaption>input</figcaption>${await melImage(
      ex.inputMel,
      ex.frames,
      ex.nMels,
      range,
      `input log-mel of ${ex.name}`,
    )}</figure><figure><figcaption>reconstruction</figcaption>${await melImage(
      ex.reconMel,
      ex.frames,
      ex.nMels,
      range,
      `reconstructed log-mel of ${ex.name}`,
    )}</figure></div>${colorKey(range)}` +
    (players ? `<div class="players">${players}</div>` : "") + `</article>`;
}

async function sampleSection(s: ReportSample): Promise<string> {
  const range = finiteRange(s.mel);
  return `<article class="example"><h3>${esc(s.name)} <span class="dim">${s.frames} frames × ` +
    `${s.nMels} mels</span></h3>` +
    `<figure>${await melImage(s.mel, s.frames, s.nMels, range, `log-mel of ${s.name}`)}` +
    `</figure>${colorKey(range)}` +
    (s.audio || s.vocoderAudio
      ? `<div class="players">${
        audioPlayer(s.vocoderAudio ? "sample, Griffin-Lim" : "sample", s.audio, s.sampleRate)
      }${audioPlayer("sample, vocoder", s.vocoderAudio, s.sampleRate)}</div>`
      : "") +
    `</article>`;
}

export const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
  background: #f6f6f4; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 64px; }
header { border-bottom: 1px solid #ddd; margin-bottom: 8px; padding-bottom: 12px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 32px 0 12px; border-bottom: 1px solid #e2e2e2; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 8px; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 20px; color: #555; }
.meta code { color: #222; }
.dim { color: #888; font-weight: normal; font-size: 12px; }
code, pre { font: 12px/1.4 ui-monospace, "SF Mono", Menlo, Consolas, monospace; }
pre { background: #fff; border: 1px solid #e2e2e2; padding: 10px; overflow: auto; max-height: 400px; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #e2e2e2; padding: 4px 10px; text-align: left; vertical-align: top; }
.scroll { max-height: 300px; overflow: auto; display: inline-block; max-width: 100%;
  border: 1px solid #e2e2e2; }
table.kv { min-width: 420px; }
table.kv th { font-weight: 500; color: #444; background: #fafafa; white-space: nowrap; }
table.kv td code { word-break: break-all; }
table.grid th { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin-top: 8px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.chart svg { display: block; max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
.notes li { margin: 2px 0; }
.example { background: #fff; border: 1px solid #e2e2e2; padding: 12px 14px; margin-bottom: 14px; }
.sample-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 14px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
figure { margin: 0; }
figcaption { font-size: 12px; color: #555; margin-bottom: 3px; }
img.mel { display: block; width: 100%; height: 160px; image-rendering: pixelated;
  border: 1px solid #ccc; background: #000; }
.colorkey { display: flex; align-items: center; gap: 6px; font-size: 11px; color: #666;
  margin-top: 6px; }
.colorkey .bar { display: inline-block; width: 160px; height: 8px; border: 1px solid #ccc; }
.players { display: flex; flex-wrap: wrap; gap: 8px 24px; margin-top: 10px; }
.player audio { height: 32px; width: 320px; }
.empty { color: #888; padding: 20px; border: 1px dashed #ccc; text-align: center; }
`;

/**
 * Render the training report as one self-contained HTML page (inline CSS and SVG; mel
 * images and audio as `data:` URLs; no scripts, nothing fetched).
 *
 * @example
 * ```ts
 * import { renderReport } from "./report.ts";
 * const html = await renderReport({
 *   title: "voice VAE",
 *   createdAt: "2025-01-01T00:00:00Z",
 *   checkpoint: "runs/a/step_1000.safetensors",
 *   step: 1000,
 *   config: { latentDim: 16 },
 *   train: [{ step: 0, elbo: 90, recon: 88, kl: 2 }, { step: 1000, elbo: 40, recon: 33, kl: 7 }],
 *   evals: [],
 *   evalTable: { dev: { elbo: 41.5 } },
 *   examples: [],
 *   samples: [],
 * });
 * // await Deno.writeTextFile("runs/a/report.html", html);
 * ```
 */
export async function renderReport(data: ReportData): Promise<string> {
  const examples: string[] = [];
  for (const ex of data.examples) examples.push(await exampleSection(ex));
  const samples: string[] = [];
  for (const s of data.samples) samples.push(await sampleSection(s));
  const notes = data.notes ?? [];
  const last = data.train.at(-1);
  const parts = [
    `<!DOCTYPE html>`,
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${esc(data.title)}</title><style>${CSS}</style></head><body><main>`,
    `<header id="header"><h1>${esc(data.title)}</h1><div class="meta">` +
    `<span>created <code>${esc(data.createdAt)}</code></span>` +
    `<span>checkpoint <code>${esc(data.checkpoint)}</code></span>` +
    `<span>step <code>${esc(String(data.step))}</code></span>` +
    (last
      ? `<span>last train ELBO loss <code>${esc(formatNumber(last.elbo))}</code> ` +
        `(recon ${esc(formatNumber(last.recon))}, KL ${esc(formatNumber(last.kl))})</span>`
      : "") +
    `</div></header>`,
    notes.length
      ? `<section id="notes"><h2>Notes</h2><ul class="notes">${
        notes.map((n) => `<li>${esc(n)}</li>`).join("")
      }</ul></section>`
      : "",
    `<section id="config"><h2>Config</h2>${configSection(data.config)}</section>`,
    `<section id="charts"><h2>Curves</h2>${
      data.train.length || data.evals.length
        ? chartsSection(data.train, data.evals)
        : `<p class="dim">no training points logged</p>`
    }</section>`,
    `<section id="eval"><h2>Eval</h2>${evalTableSection(data.evalTable)}</section>`,
    `<section id="examples"><h2>Reconstructions</h2>${
      examples.length ? examples.join("") : `<p class="dim">no examples</p>`
    }</section>`,
    `<section id="samples"><h2>Prior samples</h2>${
      samples.length
        ? `<div class="sample-grid">${samples.join("")}</div>`
        : `<p class="dim">no samples</p>`
    }</section>`,
    `</main></body></html>`,
  ];
  return parts.join("\n");
}

/**
 * A y-range that ignores the first 2 % of steps and the outer 1 % of values, padded by 10 %:
 * the first steps of a run can be orders of magnitude off and would flatten the curve.
 * Undefined when there are too few points to bother.
 */
export function robustRange(series: [number, number][][]): [number, number] | undefined {
  const xs = series.flatMap((p) => p.map(([x]) => x)).filter(Number.isFinite);
  if (xs.length < 50) return undefined;
  const xMin = Math.min(...xs), xMax = Math.max(...xs);
  const from = xMin + 0.02 * (xMax - xMin);
  const ys = series.flatMap((p) =>
    p.filter(([x, y]) => x >= from && Number.isFinite(y)).map(([, y]) => y)
  )
    .sort((a, b) => a - b);
  if (ys.length < 10) return undefined;
  const lo = ys[Math.floor(0.01 * (ys.length - 1))], hi = ys[Math.ceil(0.99 * (ys.length - 1))];
  const pad = 0.1 * (hi - lo || Math.abs(hi) || 1);
  return [lo - pad, hi + pad];
}
