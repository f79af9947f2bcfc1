/**
 * Tests for vae/svg_chart.ts and vae/report.ts: chart structure (one polyline per unbroken
 * run, ticks, legend, escaping, log axis, empty input) and a report rendered from small
 * synthetic data (sections, image and audio counts, escaping, nothing fetched from outside).
 */

import assert from "node:assert/strict";
import { decodeWav } from "../../audio/wav.ts";
import {
  renderReport,
  type ReportData,
  type ReportExample,
  type ReportSample,
  robustRange,
  toBase64,
} from "../../vae/report.ts";
import { escapeXml, formatNumber, lineChart, niceTicks } from "../../vae/svg_chart.ts";

const count = (s: string, needle: string | RegExp) =>
  typeof needle === "string" ? s.split(needle).length - 1 : (s.match(needle) ?? []).length;

Deno.test("niceTicks covers the range with round steps", () => {
  assert.deepEqual(niceTicks(0, 97, 5), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(0.1, 0.43, 4), [0, 0.2, 0.4, 0.6]);
  assert.deepEqual(niceTicks(-3, 7, 6), [-4, -2, 0, 2, 4, 6, 8]);
  const flat = niceTicks(5, 5);
  assert.ok(flat[0] <= 5 && flat.at(-1)! >= 5 && flat.length >= 2);
});

Deno.test("formatNumber is short and names non-finite values", () => {
  assert.equal(formatNumber(25000), "25k");
  assert.equal(formatNumber(1_500_000), "1.5M");
  assert.equal(formatNumber(3.14159), "3.142");
  assert.equal(formatNumber(0.000123), "1.23e-4");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatNumber(-Infinity), "−∞");
});

Deno.test("lineChart: one polyline per series, ticks, legend, labels", () => {
  const svg = lineChart({
    title: "loss",
    series: [
      { name: "elbo", points: [[0, 10], [100, 6], [200, 4]] },
      { name: "kl", points: [[0, 1], [100, 2], [200, 3]], color: "#123456" },
    ],
    xLabel: "step",
    yLabel: "nats",
  });
  assert.ok(svg.startsWith(`<svg xmlns="http://www.w3.org/2000/svg"`));
  assert.ok(svg.endsWith("</svg>"));
  assert.equal(count(svg, "<polyline"), 2);
  assert.equal(count(svg, `class="legend-item"`), 2);
  assert.ok(svg.includes(`stroke="#123456"`));
  assert.ok(count(svg, `class="tick"`) >= 6);
  for (const label of [">0<", ">200<", ">step<", ">nats<", ">loss<", ">elbo<", ">kl<"]) {
    assert.ok(svg.includes(label), label);
  }
  // points stay inside the viewBox
  for (const m of svg.matchAll(/points="([^"]+)"/g)) {
    for (const pair of m[1].split(" ")) {
      const [x, y] = pair.split(",").map(Number);
      assert.ok(x >= 0 && x <= 640 && y >= 0 && y <= 320, pair);
    }
  }
});

Deno.test("lineChart breaks lines at NaN and Infinity and dots isolated points", () => {
  const svg = lineChart({
    title: "t",
    series: [{
      name: "s",
      points: [[0, 1], [1, 2], [2, NaN], [3, 3], [4, 4], [5, Infinity], [6, 2], [NaN, 1]],
    }],
    xLabel: "x",
    yLabel: "y",
  });
  assert.equal(count(svg, "<polyline"), 2);
  assert.equal(count(svg, "<circle"), 1); // [6, 2] stands alone
  assert.ok(!svg.includes("NaN") && !svg.includes("Infinity"));
});

Deno.test("lineChart escapes text", () => {
  const svg = lineChart({
    title: `a<b>&"c"`,
    series: [{ name: "<script>&amp", points: [[0, 1], [1, 2]] }],
    xLabel: "x<",
    yLabel: "y&",
  });
  assert.ok(!svg.includes("<script>"));
  assert.ok(svg.includes("&lt;script&gt;&amp;amp"));
  assert.ok(svg.includes("a&lt;b&gt;&amp;&quot;c&quot;"));
  assert.ok(svg.includes(">x&lt;<") && svg.includes(">y&amp;<"));
  assert.equal(escapeXml(`'`), "&#39;");
});

Deno.test("lineChart handles no series, empty series and all-NaN series", () => {
  for (
    const series of [[], [{ name: "e", points: [] }], [{
      name: "n",
      points: [[0, NaN], [1, NaN]] as [number, number][],
    }]]
  ) {
    const svg = lineChart({ title: "empty", series, xLabel: "x", yLabel: "y" });
    assert.ok(svg.includes("no data"));
    assert.equal(count(svg, "<polyline"), 0);
    assert.ok(!svg.includes("NaN"));
  }
});

Deno.test("lineChart log axis drops non-positive values and labels decades", () => {
  const svg = lineChart({
    title: "log",
    series: [{ name: "kl", points: [[0, 1000], [1, 10], [2, 0], [3, 0.1], [4, 0.01]] }],
    xLabel: "x",
    yLabel: "y",
    logY: true,
  });
  assert.equal(count(svg, "<polyline"), 2); // broken at y = 0
  for (const t of [">0.01<", ">1<", ">100<", ">1000<"]) assert.ok(svg.includes(t), t);
});

Deno.test("lineChart downsamples long series", () => {
  const points = Array.from({ length: 10000 }, (_, i): [number, number] => [i, Math.sin(i)]);
  const svg = lineChart({
    title: "long",
    series: [{ name: "s", points }],
    xLabel: "x",
    yLabel: "y",
  });
  const pairs = svg.match(/points="([^"]+)"/)![1].split(" ");
  assert.ok(pairs.length <= 1500, `${pairs.length} points`);
});

Deno.test("toBase64 matches btoa on small and chunk-spanning inputs", () => {
  assert.equal(toBase64(new TextEncoder().encode("hi")), "aGk=");
  const big = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff);
  const decoded = Uint8Array.from(atob(toBase64(big)), (c) => c.charCodeAt(0));
  assert.deepEqual(decoded, big);
});

function tone(n: number, freq: number, sampleRate: number): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => 0.3 * Math.sin(2 * Math.PI * freq * i / sampleRate),
  );
}

function mel(frames: number, nMels: number, seed: number): Float32Array {
  return Float32Array.from(
    { length: frames * nMels },
    (_, i) => Math.sin(i * 0.37 + seed) * 3 - (i % nMels) * 0.1,
  );
}

function syntheticReport(): ReportData {
  const sampleRate = 16000;
  const examples: ReportExample[] = [0, 1].map((k) => ({
    name: `dev clip ${k}`,
    nMels: 16,
    frames: 20,
    inputMel: mel(20, 16, k),
    reconMel: mel(20, 16, k + 0.1),
    originalAudio: tone(800, 220, sampleRate),
    reconAudio: tone(800, 230, sampleRate),
    sampleRate,
  }));
  const samples: ReportSample[] = [
    {
      name: "prior 0",
      nMels: 16,
      frames: 12,
      mel: mel(12, 16, 5),
      audio: tone(400, 300, sampleRate),
      sampleRate,
    },
    { name: "prior 1 (mel only)", nMels: 16, frames: 12, mel: mel(12, 16, 6), sampleRate },
  ];
  return {
    title: `VAE <run> & "friends"`,
    createdAt: "2025-06-01T12:00:00Z",
    checkpoint: "runs/x/step_300.safetensors",
    step: 300,
    config: { model: { latentDim: 16, hidden: [64, 64] }, lr: 1e-3, note: "<b>bold</b>" },
    train: Array.from({ length: 30 }, (_, i) => ({
      step: i * 10,
      elbo: 100 / (i + 1) + 20,
      recon: 100 / (i + 1) + 15,
      kl: i === 7 ? NaN : 5 - 3 / (i + 1),
      activeDims: Math.min(16, i),
    })),
    evals: [
      { step: 100, "dev/elbo": 30, "dev/recon": 24 },
      { step: 200, "dev/elbo": 26, "dev/recon": 21 },
    ],
    evalTable: { dev: { elbo: 26.1234, recon: 21, kl: 5.1 }, test: { elbo: 27.5, recon: NaN } },
    examples,
    samples,
    notes: ["resumed from step 100 <once>"],
  };
}

Deno.test("renderReport builds one self-contained page with every section", async () => {
  const html = await renderReport(syntheticReport());
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  for (const id of ["header", "notes", "config", "charts", "eval", "examples", "samples"]) {
    assert.ok(html.includes(`<section id="${id}"`) || html.includes(`<header id="${id}"`), id);
  }
  // 2 examples × (original + recon) + 1 prior sample with audio
  assert.equal(count(html, "<audio"), 5);
  assert.equal(count(html, `src="data:audio/wav;base64,`), 5);
  // 2 examples × (input + recon) + 2 prior samples
  assert.equal(count(html, `src="data:image/png;base64,`), 6);
  // charts: training loss, active dims, and one per eval metric
  assert.equal(count(html, "<svg"), 4);
  assert.ok(html.includes("Training loss") && html.includes("Eval: dev/elbo"));
  // escaped title, config and notes
  assert.ok(html.includes("<title>VAE &lt;run&gt; &amp; &quot;friends&quot;</title>"));
  assert.ok(!html.includes("<run>") && !html.includes("<b>bold") && !html.includes("<once>"));
  // eval table
  assert.ok(html.includes(">26.12<") && html.includes(">NaN<") && html.includes(">–<"));
  // nothing external: no scripts, no http(s) src/href, no CSS url() imports
  assert.ok(!/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.test(html));
  assert.ok(!/<script|<link|@import|url\(\s*["']?http/i.test(html));
  assert.ok(!html.replaceAll(`xmlns="http://www.w3.org/2000/svg"`, "").includes("http"));
});

Deno.test("renderReport inlines playable 16-bit WAV and valid PNGs", async () => {
  const data = syntheticReport();
  const html = await renderReport(data);
  const wav = html.match(/data:audio\/wav;base64,([A-Za-z0-9+/=]+)/)![1];
  const bytes = Uint8Array.from(atob(wav), (c) => c.charCodeAt(0));
  const { sampleRate, channels } = decodeWav(bytes);
  assert.equal(sampleRate, 16000);
  assert.equal(channels[0].length, 800);
  assert.equal(bytes[34], 16); // bits per sample
  const png = html.match(/data:image\/png;base64,([A-Za-z0-9+/=]+)/)![1];
  const head = Uint8Array.from(atob(png).slice(0, 24), (c) => c.charCodeAt(0));
  const view = new DataView(head.buffer);
  assert.equal(view.getUint32(16), 20); // width = frames
  assert.equal(view.getUint32(20), 32); // height = 2 × nMels
});

Deno.test("renderReport copes with an empty run", async () => {
  const html = await renderReport({
    title: "empty",
    createdAt: "now",
    checkpoint: "c",
    step: 0,
    config: undefined,
    train: [],
    evals: [],
    evalTable: {},
    examples: [],
    samples: [],
  });
  assert.ok(html.includes("no training points logged"));
  assert.ok(html.includes("no eval numbers"));
  assert.equal(count(html, "<audio"), 0);
  assert.equal(count(html, "<img"), 0);
});

Deno.test("lineChart: a fixed yRange clips lines to the plot; robustRange skips an early spike", () => {
  const points: [number, number][] = Array.from(
    { length: 200 },
    (_, i) => [i + 1, i < 2 ? -2000 : -100 + i / 4],
  );
  const range = robustRange([points]);
  assert.ok(range, "no range for 200 points");
  const [lo, hi] = range!;
  assert.ok(lo > -120 && lo < -99, `low end ${lo} should ignore the spike`);
  assert.ok(hi > -51 && hi < -40, `high end ${hi}`);
  assert.equal(robustRange([points.slice(0, 10)]), undefined);
  const svg = lineChart({
    title: "Training loss",
    series: [{ name: "elbo", points }],
    xLabel: "step",
    yLabel: "loss",
    yRange: range,
  });
  assert.match(svg, /<clipPath id="clip-Training-loss">/);
  assert.match(svg, /<g class="lines" clip-path="url\(#clip-Training-loss\)">/);
  assert.ok(!/>-2k</.test(svg) && !/>-2000</.test(svg), "the spike should not set the axis");
  const plain = lineChart({
    title: "t",
    series: [{ name: "a", points }],
    xLabel: "x",
    yLabel: "y",
  });
  assert.ok(!plain.includes("clipPath"));
});

Deno.test("renderReport plays the vocoder's audio beside Griffin-Lim's when given", async () => {
  const data = syntheticReport();
  data.examples[0].vocoderAudio = tone(800, 240, 16000);
  data.samples[0].vocoderAudio = tone(400, 310, 16000);
  const html = await renderReport(data);
  // 5 players as before, plus the vocoder's reconstruction and sample.
  assert.equal(count(html, "<audio"), 7);
  assert.equal(count(html, "reconstruction, vocoder"), 1);
  assert.equal(count(html, "reconstruction, Griffin-Lim"), 1);
  assert.equal(count(html, "sample, vocoder"), 1);
  assert.equal(count(html, "sample, Griffin-Lim"), 1);
  // Without one, the labels stay as they were.
  const plain = await renderReport(syntheticReport());
  assert.ok(!plain.includes("vocoder") && !plain.includes("Griffin-Lim"));
});
