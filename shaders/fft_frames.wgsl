// STFT framing and its adjoint, overlap-add, for engine/ops/stft.ts (stftFrames, overlapAdd):
// each op's gradient is the other entry point with the same window, so both live here.
//   frame:       frames[b, f, k] = x[b, f·hop + k] · w[k] · s(f·hop + k)
//   overlap_add: x[b, t] = s(t) · Σ_{f : 0 ≤ t − f·hop < n_fft, f < n_frames} frames[b, f, t − f·hop] · w[t − f·hop]
// where w is the window (WINDOW override: 0 rectangular, 1 periodic Hann, computed here so no
// window buffer is uploaded) and s(t) = 1, or 1 / max(Σ_f w[t − f·hop]², 1e-11) when NORMALIZE
// is 1 (the iSTFT's window-envelope division; a linear, per-sample factor, so the adjoint of the
// normalised overlap-add is the normalised framing). Overlap-add is a gather (each sample sums
// the ≤ ⌈n_fft/hop⌉ frames that cover it), so there are no float atomics.
// Bindings (row-major, contiguous):
//   frame:       src = x [batch, length], dst = frames [batch, n_frames, n_fft]
//   overlap_add: src = frames [batch, n_frames, n_fft], dst = x [batch, length]
//   params: n_fft, hop, n_frames, length (samples per row; samples no frame covers get 0),
//           total (number of dst elements).
// Workgroup: 256 threads, one output element each (a memory-bound gather); 2-D grid (grid1d).
struct Params {
  n_fft: u32,
  hop: u32,
  n_frames: u32,
  length: u32,
  total: u32,
}
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

override WINDOW: u32 = 1u;
override NORMALIZE: u32 = 0u;

const TAU: f32 = 6.283185307179586;
const ENVELOPE_FLOOR: f32 = 1e-11;

fn window(k: u32) -> f32 {
  if (WINDOW == 1u) {
    return 0.5 - 0.5 * cos(TAU * (f32(k) / f32(params.n_fft)));
  }
  return 1.0;
}

/** First and one-past-last frame covering sample t. */
fn covering(t: u32) -> vec2u {
  var lo = 0u;
  if (t + 1u > params.n_fft) {
    lo = (t + 1u - params.n_fft + params.hop - 1u) / params.hop;
  }
  let hi = min(params.n_frames, t / params.hop + 1u);
  return vec2u(lo, max(lo, hi));
}

/** The per-sample factor s(t). */
fn scale(t: u32) -> f32 {
  if (NORMALIZE == 0u) {
    return 1.0;
  }
  let fr = covering(t);
  var env = 0.0;
  for (var f = fr.x; f < fr.y; f++) {
    let w = window(t - f * params.hop);
    env += w * w;
  }
  return 1.0 / max(env, ENVELOPE_FLOOR);
}

@compute @workgroup_size(256)
fn frame(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.total) {
    return;
  }
  let k = i % params.n_fft;
  let row = i / params.n_fft; // b · n_frames + f
  let f = row % params.n_frames;
  let b = row / params.n_frames;
  let t = f * params.hop + k;
  var v = 0.0;
  if (t < params.length) {
    v = src[b * params.length + t] * window(k) * scale(t);
  }
  dst[i] = v;
}

@compute @workgroup_size(256)
fn overlap_add(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.total) {
    return;
  }
  let t = i % params.length;
  let b = i / params.length;
  let fr = covering(t);
  var acc = 0.0;
  for (var f = fr.x; f < fr.y; f++) {
    let k = t - f * params.hop;
    acc += src[(b * params.n_frames + f) * params.n_fft + k] * window(k);
  }
  dst[i] = acc * scale(t);
}
