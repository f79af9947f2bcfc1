/**
 * The vocoder's training report: one self-contained HTML page (inline SVG curves, PNG mels and
 * WAV players as data URLs; nothing fetched) with the loss curves, the held-out distances through
 * the waveform over training beside Griffin-Lim's, the table of the last evaluation, and for a
 * few held-out clips the original, Griffin-Lim and the vocoder side by side. Built from the
 * pieces of the VAE's report (vae/report.ts). Pure: returns the page as a string.
 * @module
 */
import {
  audioPlayer,
  colorKey,
  configSection,
  CSS,
  evalTableSection,
  melImage,
  robustRange,
} from "../vae/report.ts";
import { finiteRange } from "../vae/png.ts";
import { escapeXml as esc, lineChart } from "../vae/svg_chart.ts";

/** Training losses averaged over a few steps. */
export interface VocoderTrainPoint {
  step: number;
  loss: number;
  mel: number;
  spectralConvergence: number;
  logMagnitude: number;
  discriminator?: number;
  adversarial?: number;
  featureMatching?: number;
  framesPerSecond?: number;
}

/** One evaluation: `set/system/metric → dB`, e.g. `{ step, "cv/vocoder/melLsd": 2.1 }`. */
export interface VocoderEvalPoint {
  step: number;
  [metric: string]: number;
}

/** A held-out clip heard three ways. */
export interface VocoderReportExample {
  name: string;
  sampleRate: number;
  nMels: number;
  frames: number;
  /** True log-mel [frames, nMels]. */
  mel: Float32Array;
  original: Float32Array;
  griffinLim: Float32Array;
  vocoder: Float32Array;
}

/** Everything the page shows. */
export interface VocoderReportData {
  title: string;
  createdAt: string;
  checkpoint: string;
  step: number;
  config: unknown;
  train: VocoderTrainPoint[];
  evals: VocoderEvalPoint[];
  /** Rows (e.g. `cv: vocoder`) × metrics. */
  table: Record<string, Record<string, number>>;
  examples: VocoderReportExample[];
  notes?: string[];
}

function chart(
  title: string,
  series: { name: string; points: [number, number][] }[],
  yLabel: string,
): string {
  const used = series.filter((s) => s.points.some(([, y]) => Number.isFinite(y)));
  if (used.length === 0) return "";
  return `<div class="chart">${
    lineChart({
      title,
      series: used,
      xLabel: "step",
      yLabel,
      yRange: robustRange(used.map((s) => s.points)),
      width: 540,
      height: 320,
    })
  }</div>`;
}

function curves(train: VocoderTrainPoint[], evals: VocoderEvalPoint[]): string {
  const s = (key: keyof VocoderTrainPoint) =>
    train.map((p): [number, number] => [p.step, (p[key] as number | undefined) ?? NaN]);
  const parts = [
    chart("Reconstruction losses", [
      { name: "mel L1 (log power)", points: s("mel") },
      { name: "spectral convergence", points: s("spectralConvergence") },
      { name: "log-magnitude L1 (log power)", points: s("logMagnitude") },
    ], "loss"),
    chart("Adversarial terms", [
      { name: "discriminator", points: s("discriminator") },
      { name: "generator adversarial", points: s("adversarial") },
      { name: "feature matching", points: s("featureMatching") },
    ], "loss"),
    chart("Throughput", [{ name: "frames/s", points: s("framesPerSecond") }], "frames per second"),
  ];
  // One chart per eval set and metric: the vocoder's curve beside Griffin-Lim's level.
  const keys = new Set<string>();
  for (const e of evals) for (const k of Object.keys(e)) if (k !== "step") keys.add(k);
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const [set, , metric] = k.split("/");
    const g = `${set}/${metric}`;
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  for (const [g, ks] of groups) {
    const [set, metric] = g.split("/");
    parts.push(chart(
      `Held-out ${set}: ${metric} through the waveform`,
      ks.map((k) => ({
        name: k.split("/")[1],
        points: evals.map((e): [number, number] => [e.step, e[k] ?? NaN]),
      })),
      `${metric} (dB)`,
    ));
  }
  return `<div class="charts">${parts.join("")}</div>`;
}

async function example(ex: VocoderReportExample): Promise<string> {
  const range = finiteRange(ex.mel);
  const players = [
    audioPlayer("original", ex.original, ex.sampleRate),
    audioPlayer("Griffin-Lim (64 iterations)", ex.griffinLim, ex.sampleRate),
    audioPlayer("vocoder", ex.vocoder, ex.sampleRate),
  ].join("");
  return `<article class="example"><h3>${esc(ex.name)} <span class="dim">${ex.frames} frames` +
    `</span></h3><figure>${await melImage(
      ex.mel,
      ex.frames,
      ex.nMels,
      range,
      `log-mel of ${ex.name}`,
    )}</figure>${colorKey(range)}<div class="players">${players}</div></article>`;
}

/** Renders the report page. */
export async function renderVocoderReport(data: VocoderReportData): Promise<string> {
  const examples: string[] = [];
  for (const ex of data.examples) examples.push(await example(ex));
  const notes = data.notes ?? [];
  return [
    `<!DOCTYPE html>`,
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${esc(data.title)}</title><style>${CSS}</style></head><body><main>`,
    `<header><h1>${esc(data.title)}</h1><div class="meta">` +
    `<span>created <code>${esc(data.createdAt)}</code></span>` +
    `<span>checkpoint <code>${esc(data.checkpoint)}</code></span>` +
    `<span>step <code>${esc(String(data.step))}</code></span></div></header>`,
    notes.length
      ? `<section id="notes"><h2>Notes</h2><ul class="notes">${
        notes.map((n) => `<li>${esc(n)}</li>`).join("")
      }</ul></section>`
      : "",
    `<section id="eval"><h2>Held-out distances (dB, through the waveform)</h2>${
      evalTableSection(data.table)
    }</section>`,
    `<section id="charts"><h2>Curves</h2>${curves(data.train, data.evals)}</section>`,
    `<section id="examples"><h2>Held-out clips: original, Griffin-Lim, vocoder</h2>${
      examples.length ? examples.join("") : `<p class="dim">no examples</p>`
    }</section>`,
    `<section id="config"><h2>Config</h2>${configSection(data.config)}</section>`,
    `</main></body></html>`,
  ].join("\n");
}
