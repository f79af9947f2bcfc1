/**
 * A scrolling spectrogram on a canvas: one pixel column per frame, one or more pixel rows per mel
 * band (low frequencies at the bottom), newest frame at the right. Values are normalised log-mel
 * (per-band z-scores of the model: 0 is the band's average level in the training speech),
 * coloured from dark (quiet, −3 σ) to bright (loud, +3 σ). Frames arrive time-major
 * ([frames, nMels]) as web/live.ts sends them. Page-only (DOM).
 * @module
 */

/** Colour stops of the map (dark blue → purple → orange → pale yellow), at 0, ⅓, ⅔, 1. */
const STOPS: [number, number, number][] = [
  [8, 8, 32],
  [110, 30, 120],
  [235, 110, 50],
  [252, 250, 190],
];

/** The map's value range, in standard deviations of the band. */
export const SIGMA_RANGE = 3;

/** RGB of a normalised value. */
export function colourOf(value: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, (value + SIGMA_RANGE) / (2 * SIGMA_RANGE)));
  const x = t * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [STOPS[i], STOPS[i + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

/** CSS gradient of the map, for a legend. */
export function colourGradientCss(): string {
  return `linear-gradient(to right, ${STOPS.map(([r, g, b]) => `rgb(${r},${g},${b})`).join(", ")})`;
}

/** Draws frames onto a canvas that scrolls left. */
export class ScrollingSpectrogram {
  readonly #ctx: CanvasRenderingContext2D;
  readonly #rowsPerBand: number;

  constructor(readonly canvas: HTMLCanvasElement, readonly nMels: number) {
    this.#ctx = canvas.getContext("2d")!;
    this.#rowsPerBand = Math.max(1, Math.floor(canvas.height / nMels));
    this.clear();
  }

  /** Fills the canvas with the colour of silence. */
  clear(): void {
    const [r, g, b] = colourOf(-SIGMA_RANGE);
    this.#ctx.fillStyle = `rgb(${r},${g},${b})`;
    this.#ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Scrolls left by `frames` columns and draws the new frames ([frames, nMels]) at the right. */
  push(values: Float32Array, frames: number): void {
    const { width, height } = this.canvas;
    const n = Math.min(frames, width);
    const skip = frames - n;
    this.#ctx.drawImage(this.canvas, n, 0, width - n, height, 0, 0, width - n, height);
    const image = this.#ctx.createImageData(n, height);
    for (let f = 0; f < n; f++) {
      for (let m = 0; m < this.nMels; m++) {
        const [r, g, b] = colourOf(values[(skip + f) * this.nMels + m]);
        for (let k = 0; k < this.#rowsPerBand; k++) {
          const y = height - 1 - (m * this.#rowsPerBand + k);
          if (y < 0) continue;
          const at = (y * n + f) * 4;
          image.data[at] = r;
          image.data[at + 1] = g;
          image.data[at + 2] = b;
          image.data[at + 3] = 255;
        }
      }
    }
    this.#ctx.putImageData(image, width - n, 0);
  }
}
