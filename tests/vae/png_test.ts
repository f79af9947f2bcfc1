/**
 * Tests for vae/png.ts: the PNG is decoded back here with `DecompressionStream("deflate")`
 * (signature, chunk layout, every CRC, IHDR fields, filter bytes, pixels), and the mel image
 * puts time on x, low mels at the bottom and the colormap ends at vmin/vmax.
 */

import assert from "node:assert/strict";
import { crc32, encodePng, finiteRange, magma, melToPng } from "../../vae/png.ts";

interface Chunk {
  type: string;
  data: Uint8Array;
}

/** Split a PNG into chunks, asserting the signature and every chunk's CRC. */
function readChunks(png: Uint8Array): Chunk[] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    const crc = view.getUint32(at + 8 + length);
    assert.equal(crc, crc32(png.subarray(at + 4, at + 8 + length)), `CRC of ${type}`);
    chunks.push({ type, data });
    at += 12 + length;
  }
  assert.equal(at, png.length, "chunks end exactly at the end of the file");
  return chunks;
}

/** Decode an 8-bit RGBA, non-interlaced, filter-0 PNG written by encodePng. */
async function decodePng(png: Uint8Array) {
  const chunks = readChunks(png);
  assert.deepEqual(chunks.map((c) => c.type), ["IHDR", "IDAT", "IEND"]);
  const ihdr = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset, 13);
  assert.equal(chunks[0].data.length, 13);
  const width = ihdr.getUint32(0), height = ihdr.getUint32(4);
  assert.deepEqual([...chunks[0].data.subarray(8)], [8, 6, 0, 0, 0]);
  assert.equal(chunks[2].data.length, 0);
  const zlib = chunks[1].data;
  assert.equal(zlib[0] & 0x0f, 8, "zlib header says deflate");
  assert.equal(((zlib[0] << 8) | zlib[1]) % 31, 0, "zlib header check bits");
  const stream = new Blob([zlib.slice()]).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  assert.equal(raw.length, height * (width * 4 + 1));
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 4 + 1);
    assert.equal(raw[row], 0, `filter type of row ${y}`);
    rgba.set(raw.subarray(row + 1, row + 1 + width * 4), y * width * 4);
  }
  return { width, height, rgba };
}

function pixel(img: { width: number; rgba: Uint8Array }, x: number, y: number): number[] {
  const at = (y * img.width + x) * 4;
  return [...img.rgba.subarray(at, at + 4)];
}

Deno.test("crc32 matches known values", () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assert.equal(crc32(ascii("IEND")), 0xae426082);
  assert.equal(crc32(ascii("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("encodePng writes the signature, an IHDR with size and RGBA type, and IEND", async () => {
  const png = await encodePng(3, 2, new Uint8Array(3 * 2 * 4));
  // signature, then IHDR: length 13, "IHDR", width 3, height 2, depth 8, colour type 6
  // deno-fmt-ignore
  assert.deepEqual(
    [...png.subarray(0, 26)],
    [
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
      0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
      0, 0, 0, 3, 0, 0, 0, 2, 8, 6,
    ],
  );
  // the file ends with the fixed IEND chunk
  assert.deepEqual(
    [...png.subarray(png.length - 12)],
    [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82],
  );
});

Deno.test("encodePng round-trips pixels through DecompressionStream", async () => {
  const width = 37, height = 11;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 7 + (i >> 5)) & 0xff;
  const img = await decodePng(await encodePng(width, height, rgba));
  assert.equal(img.width, width);
  assert.equal(img.height, height);
  assert.deepEqual(img.rgba, rgba);
});

Deno.test("encodePng rejects bad sizes and buffers", async () => {
  await assert.rejects(() => encodePng(0, 1, new Uint8Array(0)), RangeError);
  await assert.rejects(() => encodePng(1.5, 1, new Uint8Array(4)), RangeError);
  await assert.rejects(() => encodePng(2, 2, new Uint8Array(4)), /expected 16 RGBA bytes/);
});

Deno.test("magma runs dark to light and clamps", () => {
  assert.deepEqual(magma(0), [0, 0, 4]);
  assert.deepEqual(magma(1), [252, 253, 191]);
  assert.deepEqual(magma(-3), magma(0));
  assert.deepEqual(magma(7), magma(1));
  assert.deepEqual(magma(NaN), magma(0));
  const lum = (t: number) => magma(t).reduce((a, b) => a + b, 0);
  for (let t = 0; t < 1; t += 0.05) assert.ok(lum(t + 0.05) > lum(t), `brighter after ${t}`);
});

Deno.test("finiteRange ignores NaN and infinities", () => {
  assert.deepEqual(finiteRange(new Float32Array([2, NaN, -5, Infinity])), [-5, 2]);
  assert.deepEqual(finiteRange(new Float32Array([NaN])), [0, 0]);
  assert.deepEqual(finiteRange([]), [0, 0]);
});

Deno.test("melToPng: time on x, low mels at the bottom, 2x vertical, vmin/vmax at the ends", async () => {
  const frames = 5, nMels = 4;
  // value = mel index, except frame 4 is all at vmax and frame 0 mel 0 is NaN
  const mel = new Float32Array(frames * nMels);
  for (let f = 0; f < frames; f++) {
    for (let m = 0; m < nMels; m++) mel[f * nMels + m] = f === 4 ? 10 : m;
  }
  mel[0] = NaN;
  const img = await decodePng(await melToPng(mel, frames, nMels, { vmin: 0, vmax: 10 }));
  assert.equal(img.width, frames);
  assert.equal(img.height, nMels * 2);
  const dark = [...magma(0), 255], light = [...magma(1), 255];
  // mel 0 is the bottom two rows; mel 3 the top two
  assert.deepEqual(pixel(img, 1, 7), dark);
  assert.deepEqual(pixel(img, 1, 6), dark);
  assert.deepEqual(pixel(img, 1, 0), [...magma(0.3), 255]);
  assert.deepEqual(pixel(img, 1, 1), [...magma(0.3), 255]);
  assert.deepEqual(pixel(img, 2, 3), [...magma(0.2), 255]); // mel 2 at rows 2-3
  assert.deepEqual(pixel(img, 4, 0), light); // last frame is the rightmost column
  assert.deepEqual(pixel(img, 4, 7), light);
  assert.deepEqual(pixel(img, 0, 7), dark); // NaN drawn dark
});

Deno.test("melToPng defaults to the data range and honours xScale", async () => {
  const mel = new Float32Array([-4, 0, 2, 6]); // 2 frames × 2 mels
  const img = await decodePng(await melToPng(mel, 2, 2, { xScale: 3, yScale: 1 }));
  assert.equal(img.width, 6);
  assert.equal(img.height, 2);
  assert.deepEqual(pixel(img, 0, 1), [...magma(0), 255]); // frame 0 mel 0 = min
  assert.deepEqual(pixel(img, 5, 0), [...magma(1), 255]); // frame 1 mel 1 = max
  assert.deepEqual(pixel(img, 2, 0), [...magma(0.4), 255]); // frame 0 mel 1 = 0
  assert.throws(() => melToPng(mel, 3, 2), RangeError);
});

Deno.test("melToPng draws a constant input without dividing by zero", async () => {
  const img = await decodePng(await melToPng(new Float32Array(6).fill(1), 3, 2));
  assert.deepEqual(pixel(img, 1, 1), [...magma(0), 255]);
});
