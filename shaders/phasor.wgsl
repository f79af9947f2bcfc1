// The spectral head of an iSTFT vocoder (Vocos), fused: per STFT bin, from (log-magnitude ℓ,
// a, b) and an optional log-magnitude offset o (HAS_OFFSET; a prior the head corrects) to
//   X = e^{min(ℓ + o, max_log_magnitude)} · (a, b) / √(a² + b² + eps)
// where (a, b) is an unnormalised phase 2-vector (no wrap-around, no trigonometry), and back:
//   dℓ = do = (g_re·re + g_im·im) · [ℓ + o < max_log_magnitude]
//   da = m · (g_re·(b² + eps) − g_im·a·b) / r³,  db = m · (g_im·(a² + eps) − g_re·a·b) / r³
// with m = e^{min(ℓ + o, max)}, r = √(a² + b² + eps). Layout: x is [..., 3] (ℓ, a, b)
// contiguous, offset [...] (one per bin), y and dy are [..., 2] (real, imaginary) as everywhere in
// the engine; `bins` = rows of all. do equals dℓ, so the op's caller reuses dx's ℓ column.
// Dispatched by engine/ops/phasor.ts. Workgroup: 256 threads, one bin each; 2-D grid (grid1d).
struct Params {
  bins: u32,
  max_log_magnitude: f32,
  eps: f32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> offset: array<f32>;

override HAS_OFFSET: u32 = 0u;

fn log_magnitude(i: u32) -> f32 {
  if (HAS_OFFSET == 1u) {
    return x[3u * i] + offset[i];
  }
  return x[3u * i];
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.bins) {
    return;
  }
  let l = log_magnitude(i);
  let a = x[3u * i + 1u];
  let b = x[3u * i + 2u];
  let scale = exp(min(l, params.max_log_magnitude)) / sqrt(a * a + b * b + params.eps);
  y[2u * i] = a * scale;
  y[2u * i + 1u] = b * scale;
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.bins) {
    return;
  }
  let l = log_magnitude(i);
  let a = x[3u * i + 1u];
  let b = x[3u * i + 2u];
  let g_re = dy[2u * i];
  let g_im = dy[2u * i + 1u];
  let m = exp(min(l, params.max_log_magnitude));
  let r2 = a * a + b * b + params.eps;
  let r = sqrt(r2);
  let below = select(0.0, 1.0, l < params.max_log_magnitude);
  dx[3u * i] = (g_re * a + g_im * b) * (m / r) * below;
  let k = m / (r2 * r);
  dx[3u * i + 1u] = k * (g_re * (b * b + params.eps) - g_im * a * b);
  dx[3u * i + 2u] = k * (g_im * (a * a + params.eps) - g_re * a * b);
}
