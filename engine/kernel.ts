/**
 * A WGSL compute kernel: its source, the bindings and uniform layout read from that source with
 * wgsl_reflect (so they are never written twice), and a cache of compiled pipelines keyed by the
 * `override` constants they were built with.
 * @module
 */
// @ts-types="npm:wgsl_reflect@1.6.0/types/index.d.ts"
import { WgslReflect } from "wgsl_reflect";

/** One binding of the kernel's group 0, as reflected from WGSL. */
export interface BindingInfo {
  name: string;
  binding: number;
  kind: "uniform" | "read-only-storage" | "storage";
}

/** One member of the kernel's uniform `params` struct. */
export interface ParamMember {
  name: string;
  offset: number;
  /** Scalar type of the member or of its elements. */
  scalar: "u32" | "i32" | "f32";
  /** Number of scalars (1 for a scalar, 4 for vec4, 4·n for array<vec4, n>). */
  count: number;
}

/** Values for a kernel's uniform params, by member name. */
export type ParamValues = Record<string, number | ArrayLike<number>>;

/** A kernel ready to dispatch. */
export class Kernel {
  readonly bindings: BindingInfo[];
  readonly params: ParamMember[];
  readonly paramsBytes: number;
  readonly overrides: Set<string>;
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #module: GPUShaderModule | null = null;
  #layout: GPUBindGroupLayout | null = null;
  #pipelineLayout: GPUPipelineLayout | null = null;

  constructor(readonly name: string, readonly source: string, readonly entryPoint = "main") {
    const reflect = new WgslReflect(source);
    const entry = reflect.entry.compute.find((e) => e.name === entryPoint);
    if (!entry) throw new Error(`kernel ${name}: no @compute entry point '${entryPoint}'`);
    // Only the resources this entry point uses: one file may hold a forward and a backward entry.
    const used = new Set(entry.resources.map((r) => r.name));
    const vars = (reflect.getBindGroups()[0] ?? []).filter((b) => b && used.has(b.name));
    this.bindings = vars.map((b) => ({
      name: b.name,
      binding: b.binding,
      kind: b.resourceType === 0
        ? "uniform"
        : b.access === "read"
        ? "read-only-storage"
        : "storage",
    }));
    const uniform = vars.find((b) => b.resourceType === 0);
    this.params = [];
    this.paramsBytes = 0;
    if (uniform) {
      const struct = uniform.type as unknown as {
        members: { name: string; offset: number; size: number; type: { name: string } }[];
        size: number;
      };
      for (const m of struct.members) this.params.push(paramMember(name, m));
      this.paramsBytes = struct.size;
    }
    this.overrides = new Set(reflect.overrides.map((o) => o.name));
  }

  /** The shader module (compiled once per device). */
  module(device: GPUDevice): GPUShaderModule {
    if (!this.#module) {
      this.#module = device.createShaderModule({ code: this.source, label: this.name });
    }
    return this.#module;
  }

  /** The bind group layout built from the reflected bindings. */
  layout(device: GPUDevice): GPUBindGroupLayout {
    if (!this.#layout) {
      this.#layout = device.createBindGroupLayout({
        label: this.name,
        entries: this.bindings.map((b) => ({
          binding: b.binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: b.kind },
        })),
      });
      this.#pipelineLayout = device.createPipelineLayout({
        label: this.name,
        bindGroupLayouts: [this.#layout],
      });
    }
    return this.#layout;
  }

  /** The pipeline for these override constants, compiled on first use and cached. */
  pipeline(device: GPUDevice, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`).join(",");
    let p = this.#pipelines.get(key);
    if (!p) {
      for (const k of Object.keys(constants)) {
        if (!this.overrides.has(k)) throw new Error(`kernel ${this.name}: unknown override ${k}`);
      }
      this.layout(device);
      p = device.createComputePipeline({
        label: `${this.name}[${key}]`,
        layout: this.#pipelineLayout!,
        compute: { module: this.module(device), entryPoint: this.entryPoint, constants },
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** Packs param values into the uniform struct's bytes, following the reflected layout. */
  packParams(values: ParamValues, out: ArrayBuffer, byteOffset: number): void {
    const u32 = new Uint32Array(out, byteOffset, this.paramsBytes / 4);
    const i32 = new Int32Array(out, byteOffset, this.paramsBytes / 4);
    const f32 = new Float32Array(out, byteOffset, this.paramsBytes / 4);
    u32.fill(0);
    for (const m of this.params) {
      const v = values[m.name];
      if (v === undefined) throw new Error(`kernel ${this.name}: missing param ${m.name}`);
      const arr = typeof v === "number" ? [v] : v;
      if (arr.length > m.count) {
        throw new Error(
          `kernel ${this.name}: param ${m.name} has ${arr.length} > ${m.count} values`,
        );
      }
      const view = m.scalar === "u32" ? u32 : m.scalar === "i32" ? i32 : f32;
      for (let i = 0; i < arr.length; i++) view[m.offset / 4 + i] = arr[i];
    }
  }
}

function paramMember(
  kernel: string,
  m: { name: string; offset: number; size: number; type: { name: string } },
): ParamMember {
  const t = m.type as unknown as { name: string; format?: { name: string }; count?: number };
  const typeName = t.name === "array" ? `${t.format?.name}` : t.name;
  const scalarOf = (s: string): "u32" | "i32" | "f32" => {
    if (/u32|vec\du|<u32>/.test(s)) return "u32";
    if (/i32|vec\di|<i32>/.test(s)) return "i32";
    if (/f32|vec\df|<f32>/.test(s)) return "f32";
    throw new Error(`kernel ${kernel}: unsupported param type ${s} for ${m.name}`);
  };
  return { name: m.name, offset: m.offset, scalar: scalarOf(typeName), count: m.size / 4 };
}
