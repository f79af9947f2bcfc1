/**
 * PNG writing as pure functions over bytes, and log-mel spectrograms drawn as PNG images for
 * the training report. No file access and no Deno APIs: compression goes through the
 * web-standard `CompressionStream("deflate")`, whose zlib framing is exactly what a PNG
 * `IDAT` stream is, so this runs in a browser as well.
 * @module
 */

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) lookup table, as the PNG spec gives it. */
const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 of `bytes` (the checksum PNG chunks carry over their type and data).
 *
 * @example
 * ```ts
 * import { crc32 } from "./png.ts";
 * crc32(new TextEncoder().encode("IEND")).toString(16); // "ae426082"
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function zlibDeflate(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  // the CRC covers the chunk type and data, not the length
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encode 8-bit RGBA pixels as a PNG file (colour type 6, no interlace, filter type 0 on
 * every row).
 *
 * @param width image width in pixels (≥ 1)
 * @param height image height in pixels (≥ 1)
 * @param rgba `width * height * 4` bytes, rows top to bottom, pixels left to right
 * @throws {RangeError} on a bad size or a pixel buffer of the wrong length
 *
 * @example
 * ```ts
 * import { encodePng } from "./png.ts";
 * const red = new Uint8Array([255, 0, 0, 255]);
 * const png = await encodePng(1, 1, red);
 * console.log(png.subarray(1, 4)); // "PNG" in ASCII
 * ```
 */
export async function encodePng(
  width: number,
  height: number,
  rgba: Uint8Array,
): Promise<Uint8Array> {
  const validSide = (n: number) => Number.isInteger(n) && n >= 1 && n <= 0x7fffffff;
  if (!validSide(width) || !validSide(height)) {
    throw new RangeError(`encodePng: invalid size ${width}×${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(
      `encodePng: expected ${width * height * 4} RGBA bytes for ${width}×${height}, ` +
        `got ${rgba.length}`,
    );
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type: truecolour with alpha
  header[10] = 0; // compression: deflate
  header[11] = 0; // filter method 0 (adaptive; each row says its filter type)
  header[12] = 0; // no interlace

  const stride = width * 4;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type 0 (None)
    raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts = [
    new Uint8Array(PNG_SIGNATURE),
    chunk("IHDR", header),
    chunk("IDAT", await zlibDeflate(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Magma colormap sampled at nine evenly spaced points (matplotlib's values, rounded). */
const MAGMA: readonly (readonly [number, number, number])[] = [
  [0, 0, 4],
  [28, 16, 68],
  [79, 18, 123],
  [129, 37, 129],
  [181, 54, 122],
  [229, 80, 100],
  [251, 135, 97],
  [254, 194, 135],
  [252, 253, 191],
];

/**
 * The magma colormap (perceptually uniform, dark to light) at `t` in [0, 1], as RGB bytes.
 * Values outside [0, 1] are clamped; NaN maps to the dark end.
 *
 * @example
 * ```ts
 * import { magma } from "./png.ts";
 * magma(0); // [0, 0, 4]
 * magma(1); // [252, 253, 191]
 * ```
 */
export function magma(t: number): [number, number, number] {
  const x = (t > 1 ? 1 : t > 0 ? t : 0) * (MAGMA.length - 1);
  const i = Math.min(Math.floor(x), MAGMA.length - 2);
  const f = x - i;
  const a = MAGMA[i], b = MAGMA[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/** Options for {@linkcode melToPng}. */
export interface MelImageOptions {
  /** Value drawn at the dark end of the colormap; default the smallest finite value. */
  vmin?: number;
  /** Value drawn at the light end; default the largest finite value. */
  vmax?: number;
  /** Pixels per frame along x (default 1). */
  xScale?: number;
  /** Pixels per mel band along y (default 2, so 80 bands are 160 pixels tall). */
  yScale?: number;
}

/**
 * Smallest and largest finite value of `values` (`[0, 0]` when there is none).
 *
 * @example
 * ```ts
 * import { finiteRange } from "./png.ts";
 * finiteRange(new Float32Array([3, NaN, -1])); // [-1, 3]
 * ```
 */
export function finiteRange(values: ArrayLike<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v; // NaN compares false both ways
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    // ±Infinity only, or nothing finite at all: fall back to the finite values alone
    lo = Infinity, hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

/**
 * Draw a log-mel spectrogram as a PNG: time on x, low mel bands at the bottom, magma colours
 * from `vmin` (dark) to `vmax` (light). Pass the same `vmin`/`vmax` to compare an input with
 * its reconstruction on one scale. NaN is drawn at the dark end, ±Infinity at the ends.
 *
 * @param mel `[frames, nMels]` row-major (one frame's bands contiguous)
 *
 * @example
 * ```ts
 * import { melToPng } from "./png.ts";
 * const mel = Float32Array.from({ length: 10 * 8 }, (_, i) => i % 8);
 * const png = await melToPng(mel, 10, 8, { vmin: 0, vmax: 7 }); // 10×16 pixels
 * ```
 */
export function melToPng(
  mel: Float32Array,
  frames: number,
  nMels: number,
  options: MelImageOptions = {},
): Promise<Uint8Array> {
  if (mel.length !== frames * nMels) {
    throw new RangeError(`melToPng: ${mel.length} values is not ${frames} frames × ${nMels} mels`);
  }
  const xScale = options.xScale ?? 1;
  const yScale = options.yScale ?? 2;
  if (!(Number.isInteger(xScale) && xScale >= 1 && Number.isInteger(yScale) && yScale >= 1)) {
    throw new RangeError(`melToPng: scales must be positive integers (${xScale}, ${yScale})`);
  }
  let vmin = options.vmin, vmax = options.vmax;
  if (vmin === undefined || vmax === undefined) {
    const [lo, hi] = finiteRange(mel);
    vmin ??= lo;
    vmax ??= hi;
  }
  const span = vmax - vmin;
  const width = frames * xScale, height = nMels * yScale;
  const rgba = new Uint8Array(width * height * 4);
  for (let m = 0; m < nMels; m++) {
    const top = (nMels - 1 - m) * yScale; // low mels at the bottom
    for (let f = 0; f < frames; f++) {
      const v = mel[f * nMels + m];
      const t = span > 0 ? (v - vmin) / span : v > vmin ? 1 : 0;
      const [r, g, b] = magma(t);
      for (let dy = 0; dy < yScale; dy++) {
        let at = ((top + dy) * width + f * xScale) * 4;
        for (let dx = 0; dx < xScale; dx++, at += 4) {
          rgba[at] = r;
          rgba[at + 1] = g;
          rgba[at + 2] = b;
          rgba[at + 3] = 255;
        }
      }
    }
  }
  return encodePng(width, height, rgba);
}
