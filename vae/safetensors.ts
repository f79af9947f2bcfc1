/**
 * The `.safetensors` format (readable by PyTorch, JAX and friends), F32 and F16: an 8-byte
 * little-endian header length, a JSON header `{ name: { dtype: "F32" | "F16", shape,
 * data_offsets }, "__metadata__": { key: string } }` padded with spaces to a multiple of 8, then
 * the raw little-endian data. In memory values are always f32; `dtype: "F16"` stores a tensor
 * as IEEE half (engine/float16.ts), half the bytes. Pure and portable: bytes in, bytes out.
 * @module
 */
import { float16ToFloat32, float32ToFloat16 } from "../engine/float16.ts";

/** Storage types of a tensor in the file. */
export type SafetensorsDtype = "F32" | "F16";

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2 };

/** One tensor's values and shape on the CPU (and how it is, or is to be, stored). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
  /** Storage type in the file (default F32; decoding reports what the file held). */
  dtype?: SafetensorsDtype;
}

/** The contents of a safetensors file. */
export interface SafetensorsContents {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** Raised for a file that is not valid safetensors; names the file and the problem. */
export class SafetensorsError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: not a valid .safetensors file: ${problem}`);
    this.name = "SafetensorsError";
  }
}

/** Serialises tensors (in name order) and string metadata. */
export function encodeSafetensors(contents: SafetensorsContents): Uint8Array {
  const names = [...contents.tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(contents.metadata).length) header.__metadata__ = contents.metadata;
  let offset = 0;
  const stored = new Map<string, Uint8Array>();
  for (const name of names) {
    const t = contents.tensors.get(name)!;
    const dtype = t.dtype ?? "F32";
    if (!(dtype in BYTES)) throw new Error(`safetensors: ${name} has unknown dtype ${dtype}`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new Error(`safetensors: ${name} has ${t.data.length} values for [${t.shape}]`);
    }
    const d = dtype === "F16" ? float32ToFloat16(t.data) : t.data;
    stored.set(name, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    const bytes = size * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const d = stored.get(name)!;
    out.set(d, at);
    at += d.byteLength;
  }
  return out;
}

/** Parses safetensors bytes; `file` names the source in errors. */
export function decodeSafetensors(bytes: Uint8Array, file = "<bytes>"): SafetensorsContents {
  if (bytes.length < 8) throw new SafetensorsError(file, `only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8) {
    throw new SafetensorsError(file, `header length ${n} runs past the end (truncated?)`);
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(file, `header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new SafetensorsError(file, "header is not an object");
  }
  const dataStart = 8 + n;
  const dataBytes = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  if (
    typeof metadata !== "object" || Array.isArray(metadata) ||
    !Object.values(metadata).every((v) => typeof v === "string")
  ) {
    throw new SafetensorsError(file, "__metadata__ must map names to strings");
  }
  const tensors = new Map<string, HostTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
    if (
      !info || typeof info !== "object" || !Array.isArray(info.shape) ||
      !info.shape.every(isCount) || !Array.isArray(info.data_offsets) ||
      info.data_offsets.length !== 2 || !info.data_offsets.every(Number.isSafeInteger)
    ) {
      throw new SafetensorsError(file, `${name}: malformed entry ${JSON.stringify(info)}`);
    }
    if (info.dtype !== "F32" && info.dtype !== "F16") {
      throw new SafetensorsError(
        file,
        `${name} has dtype ${info.dtype}; only F32 and F16 are supported`,
      );
    }
    const dtype: SafetensorsDtype = info.dtype;
    const [begin, end] = info.data_offsets;
    const size = info.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== size * BYTES[dtype] || end > dataBytes || begin < 0) {
      throw new SafetensorsError(
        file,
        `${name}: offsets [${begin}, ${end}] do not fit shape [${info.shape}] in ${dataBytes} data bytes`,
      );
    }
    // Copy: the source bytes may not be aligned.
    const raw = dtype === "F16" ? new Uint16Array(size) : new Float32Array(size);
    new Uint8Array(raw.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    const data = raw instanceof Uint16Array ? float16ToFloat32(raw) : raw;
    tensors.set(name, { shape: info.shape, data, dtype });
  }
  return { tensors, metadata };
}
