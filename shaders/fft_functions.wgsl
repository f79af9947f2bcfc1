// What both FFT kernel files (shaders/fft.wgsl and shaders/fft_frame.wgsl) share, prepended to
// each by engine/ops/fft.ts: the uniforms and bindings 0–4 (their layouts are documented in each
// file's header), complex arithmetic on vec2f (real, imaginary), twiddles, stft_power's window
// (WINDOW override: 0 rectangular, 1 periodic Hann) and the 8-point DFT.

struct Params {
  half_n: u32,
  rows: u32,
  rows_per_group: u32,
  edge_scale: f32,
  mid_scale: f32,
  hop: u32,
  n_frames: u32,
  length: u32,
}
@group(0) @binding(0) var<storage, read> src: array<vec2f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec2f>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> signal: array<f32>;
@group(0) @binding(4) var<storage, read_write> power: array<f32>;

override WINDOW: u32 = 1u;

const TAU: f32 = 6.283185307179586;

fn cmul(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn conj(a: vec2f) -> vec2f {
  return vec2f(a.x, -a.y);
}

/** Multiplies by i·sign. */
fn rot(a: vec2f, sign: f32) -> vec2f {
  return vec2f(-sign * a.y, sign * a.x);
}

/** exp(sign · 2πi · num / den) for den a power of two (≤ 4096). */
fn twiddle(num: u32, den: u32, sign: f32) -> vec2f {
  let k = num & (den - 1u);
  // Map to (−den/2, den/2] so the angle stays in [−π, π], where cos/sin are most accurate.
  var kf = f32(k);
  if (2u * k > den) {
    kf = kf - f32(den);
  }
  let angle = sign * TAU * (kf / f32(den));
  return vec2f(cos(angle), sin(angle));
}

/** The analysis window at sample j of an n-sample frame (the formula of fft_frames.wgsl). */
fn window(j: u32, n: u32) -> f32 {
  if (WINDOW == 1u) {
    return 0.5 - 0.5 * cos(TAU * (f32(j) / f32(n)));
  }
  return 1.0;
}

/** Eight complex values in registers: a radix-8 butterfly's inputs or outputs. */
struct Octet {
  v0: vec2f,
  v1: vec2f,
  v2: vec2f,
  v3: vec2f,
  v4: vec2f,
  v5: vec2f,
  v6: vec2f,
  v7: vec2f,
}

/**
 * The 8-point DFT (kernel exp(sign·2πi·jk/8)) of v, whose inputs are already multiplied by their
 * twiddles: two 4-point DFTs (even and odd inputs) joined by W_8^q, q = 0..3.
 */
fn dft8(v: Octet, sign: f32) -> Octet {
  let ea0 = v.v0 + v.v4;
  let ea1 = v.v0 - v.v4;
  let eb0 = v.v2 + v.v6;
  let eb1 = rot(v.v2 - v.v6, sign);
  let oa0 = v.v1 + v.v5;
  let oa1 = v.v1 - v.v5;
  let ob0 = v.v3 + v.v7;
  let ob1 = rot(v.v3 - v.v7, sign);
  let e0 = ea0 + eb0;
  let e1 = ea1 + eb1;
  let e2 = ea0 - eb0;
  let e3 = ea1 - eb1;
  let o0 = oa0 + ob0;
  let c = 0.7071067811865476;
  let o1 = cmul(oa1 + ob1, vec2f(c, sign * c));
  let o2 = rot(oa0 - ob0, sign);
  let o3 = cmul(oa1 - ob1, vec2f(-c, sign * c));
  return Octet(e0 + o0, e1 + o1, e2 + o2, e3 + o3, e0 - o0, e1 - o1, e2 - o2, e3 - o3);
}
