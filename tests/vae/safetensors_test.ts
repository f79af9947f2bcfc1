/**
 * Tests for vae/safetensors.ts: the byte layout of the format (8-byte little-endian header
 * length, space-padded JSON header, contiguous little-endian f32 data), round trips, a
 * hand-built file as other libraries write it, and clear errors naming the file for truncated
 * or corrupt input.
 */
import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  SafetensorsError,
} from "../../vae/safetensors.ts";

function sample(): Map<string, HostTensor> {
  return new Map<string, HostTensor>([
    ["b.weight", { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 1e-30, -0, 65504) }],
    ["a.bias", { shape: [3], data: Float32Array.of(0.1, 0.2, 0.3) }],
    ["scalar", { shape: [], data: Float32Array.of(-7.25) }],
    ["empty", { shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

const te = new TextEncoder();

/** A file as another writer would produce it, from a header object and raw f32 data. */
function handBuilt(header: unknown, data: Float32Array, pad = true): Uint8Array {
  let json = JSON.stringify(header);
  if (pad) json += " ".repeat((8 - (te.encode(json).length % 8)) % 8);
  const h = te.encode(json);
  const out = new Uint8Array(8 + h.length + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(new Uint8Array(data.buffer), 8 + h.length);
  return out;
}

Deno.test("safetensors round trip keeps every tensor, shape, value and metadata", () => {
  const tensors = sample();
  const metadata = { format: "x/1", note: "ünïcode ✓", json: JSON.stringify({ a: [1, 2] }) };
  const bytes = encodeSafetensors({ tensors, metadata });
  const back = decodeSafetensors(bytes, "mem");
  assert.deepEqual(back.metadata, metadata);
  assert.deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
  for (const [name, t] of tensors) {
    const b = back.tensors.get(name)!;
    assert.deepEqual(b.shape, t.shape, name);
    assert.deepEqual(b.data, t.data, name);
    assert.ok(b.data instanceof Float32Array);
  }
  // Without metadata the header has no __metadata__ entry and decodes to {}.
  const plain = encodeSafetensors({ tensors, metadata: {} });
  const n = Number(new DataView(plain.buffer).getBigUint64(0, true));
  assert.ok(!("__metadata__" in JSON.parse(new TextDecoder().decode(plain.subarray(8, 8 + n)))));
  assert.deepEqual(decodeSafetensors(plain).metadata, {});
});

Deno.test("safetensors layout: u64 LE header length, 8-aligned JSON header, contiguous data", () => {
  const bytes = encodeSafetensors({ tensors: sample(), metadata: { k: "v" } });
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assert.equal(n % 8, 0, "header length is not a multiple of 8");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.__metadata__, { k: "v" });
  // Tensors laid out in name order, back to back from offset 0 to the end of the file.
  const names = Object.keys(header).filter((k) => k !== "__metadata__").sort();
  let offset = 0;
  for (const name of names) {
    const { dtype, shape, data_offsets } = header[name];
    assert.equal(dtype, "F32");
    assert.equal(data_offsets[0], offset, `${name} does not follow the previous tensor`);
    offset = data_offsets[1];
    assert.equal(offset - data_offsets[0], 4 * shape.reduce((a: number, b: number) => a * b, 1));
  }
  assert.equal(8 + n + offset, bytes.length);
  // Values are little-endian f32.
  const b = header["b.weight"].data_offsets[0];
  assert.equal(view.getFloat32(8 + n + b + 8, true), 3.5);
});

Deno.test("decodes a hand-built file (unpadded header, unaligned buffer) as other writers make it", () => {
  const file = handBuilt(
    {
      "w": { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
      "__metadata__": { format: "pt" },
      "v": { dtype: "F32", shape: [1], data_offsets: [16, 20] },
    },
    Float32Array.of(1, 2, 3, 4, 5),
    false,
  );
  // Place the file at an odd byte offset so the f32 data is unaligned.
  const host = new Uint8Array(file.length + 3);
  host.set(file, 3);
  const { tensors, metadata } = decodeSafetensors(host.subarray(3), "hand.safetensors");
  assert.deepEqual(metadata, { format: "pt" });
  assert.deepEqual(tensors.get("w"), {
    shape: [2, 2],
    data: Float32Array.of(1, 2, 3, 4),
    dtype: "F32",
  });
  assert.deepEqual(tensors.get("v"), { shape: [1], data: Float32Array.of(5), dtype: "F32" });
});

Deno.test("truncated and corrupt files are refused with errors naming the file", () => {
  const good = encodeSafetensors({ tensors: sample(), metadata: { k: "v" } });
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /only 0 bytes/],
    ["short", good.subarray(0, 5), /only 5 bytes/],
    ["cut in the header", good.subarray(0, 8 + n - 3), /runs past the end/],
    ["cut in the data", good.subarray(0, good.length - 4), /do not fit/],
    ["zero-filled", new Uint8Array(64), /header is not JSON/],
  ];
  const corrupt = good.slice();
  corrupt[8] = 0xff; // invalid UTF-8 as the header's first byte
  cases.push(["bad utf-8", corrupt, /header is not JSON/]);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
  cases.push(["absurd header length", huge, /runs past the end/]);
  cases.push([
    "unsupported dtype",
    handBuilt({ h: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } }, Float32Array.of(1)),
    /h has dtype BF16; only F32 and F16/,
  ]);
  cases.push([
    "F16 offsets sized as F32",
    handBuilt({ h: { dtype: "F16", shape: [2], data_offsets: [0, 8] } }, Float32Array.of(1, 2)),
    /h: offsets \[0, 8\] do not fit shape \[2\]/,
  ]);
  cases.push([
    "offsets disagree with shape",
    handBuilt({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, Float32Array.of(1, 2)),
    /w: offsets \[0, 8\] do not fit shape \[3\]/,
  ]);
  cases.push([
    "negative offset",
    handBuilt({ w: { dtype: "F32", shape: [1], data_offsets: [-4, 0] } }, Float32Array.of(1)),
    /do not fit/,
  ]);
  cases.push(["header is not an object", handBuilt(null, new Float32Array(0)), /not an object/]);
  cases.push([
    "entry without shape",
    handBuilt({ w: { dtype: "F32", data_offsets: [0, 4] } }, Float32Array.of(1)),
    /w: malformed entry/,
  ]);
  cases.push([
    "metadata not strings",
    handBuilt({ __metadata__: { a: 1 } }, new Float32Array(0)),
    /__metadata__/,
  ]);
  for (const [what, bytes, pattern] of cases) {
    assert.throws(
      () => decodeSafetensors(bytes, `/runs/${what}.safetensors`),
      (e: unknown) => {
        assert.ok(e instanceof SafetensorsError, `${what}: ${e}`);
        assert.ok(
          e.message.startsWith(`/runs/${what}.safetensors: not a valid .safetensors file`),
          `${what}: message does not name the file: ${e.message}`,
        );
        assert.match(e.message, pattern, what);
        return true;
      },
      what,
    );
  }
});

Deno.test("encode refuses a tensor whose data does not match its shape", () => {
  assert.throws(
    () =>
      encodeSafetensors({
        tensors: new Map([["bad", { shape: [2, 2], data: new Float32Array(3) }]]),
        metadata: {},
      }),
    /bad has 3 values for \[2,2\]/,
  );
});

Deno.test("F16 tensors: half the bytes, values rounded to the nearest half, read back as f32", () => {
  const values = Float32Array.of(1, -0.1, 65504, 1 / 3, 0);
  const bytes = encodeSafetensors({
    tensors: new Map([
      ["half", { shape: [5], data: values, dtype: "F16" as const }],
      ["full", { shape: [5], data: values }],
    ]),
    metadata: {},
  });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.equal(header.half.dtype, "F16");
  assert.deepEqual(header.full.data_offsets, [0, 20]); // name order: full first
  assert.deepEqual(header.half.data_offsets, [20, 30]);
  // Little-endian binary16 patterns of 1 and -0.1 (0x3c00, 0xae66).
  const view = new DataView(bytes.buffer, 8 + n + 20);
  assert.equal(view.getUint16(0, true), 0x3c00);
  assert.equal(view.getUint16(2, true), 0xae66);
  const back = decodeSafetensors(bytes).tensors.get("half")!;
  assert.equal(back.dtype, "F16");
  assert.deepEqual([...back.data], [1, -0.0999755859375, 65504, 0.333251953125, 0]);
});
