// Real FFTs along the last axis, batched over rows: forward `rfft` and inverse `irfft` entry
// points, dispatched by engine/ops/fft.ts (rfftRaw / irfftRaw; the autograd rules of rfft and
// irfft are each the other kernel with different bin weights, so both directions live here).
//
// An n-point real FFT is done as an M = n/2-point complex FFT of z[j] = x[2j] + i·x[2j+1] plus
// a twiddle pass that separates the spectra of the even and odd samples:
//   E[k] = (Z[k] + conj Z[M−k]) / 2,  O[k] = (Z[k] − conj Z[M−k]) / 2i,  X[k] = E[k] + W^k O[k]
// with W = exp(−2πi/n), and the irfft runs the same steps backwards (E, O from X[k] and
// conj X[M−k], then Z = E + i·O, inverse FFT, ×1/M). Halving the transform is what lets
// n = 4096 fit: M complex f32 values must fit workgroup memory, whose limit here is 16 KiB
// (2048 vec2f).
//
// Complex FFT: Stockham autosort (Govindaraju et al. 2008), radix 8 while a radix-8 stage fits,
// then one radix-4 or radix-2 stage for what is left: fewer stages mean fewer barriers and
// fewer passes over workgroup memory, the costs that dominate on CPU drivers (lavapipe). Stockham needs a second buffer to be out of place;
// instead each stage reads its butterflies' inputs from workgroup memory into registers, a
// barrier, then writes the outputs back, so one 16 KiB buffer serves. Twiddles are computed with
// cos/sin of an angle first reduced to [−π, π] by integer arithmetic (f32 error ~1e-7).
//
// engine/ops/fft.ts prepends shaders/fft_functions.wgsl (Params and bindings 0–4, cmul, conj,
// rot, twiddle, window and its WINDOW override, the 8-point DFT dft8).
//
// Bindings (all row-major, rows contiguous):
//   rfft:  src = x, [rows, n] f32 read as [rows, M] vec2f;
//          dst = X, [rows, M+1] vec2f (real, imag), like view_as_real(torch.fft.rfft(x)).
//   irfft: src = X, [rows, M+1] vec2f (imag of bins 0 and M ignored);
//          dst = x, [rows, M] vec2f = [rows, n] f32.
//   stft_power: signal = x [batch, length] f32 (binding 3); power = [rows, M+1] f32 (binding 4),
//          power[b·n_frames + f, k] = |rfft(x[b, f·hop .. f·hop + n) · window)[k]|², the
//          framing (engine/ops/stft.ts stftFrames), the rfft and |X|² in one pass, so neither
//          frames nor the complex spectrum are written out (engine/ops/stft.ts stftPower).
//          WINDOW override: 0 rectangular, 1 periodic Hann (as shaders/fft_frames.wgsl).
//   params: half_n = M (a power of two, 1..2048), rows, rows_per_group (rows sharing one
//          workgroup: M·rows_per_group ≤ 2048, so small transforms are batched), edge_scale /
//          mid_scale = weights of bins {0, M} / bins 1..M−1 (rfft: applied to its outputs; irfft:
//          to its inputs). 1 and 1 for the plain transforms; the gradients use other values.
//          hop, n_frames, length: stft_power's framing (frame starts f·hop, frames per signal,
//          samples per signal); unused (0) by rfft and irfft.
// Workgroup: WORKGROUP_SIZE (override, 128 or 256; default 256, the most invocations a
// workgroup may have) threads; each holds at most 2048 / WORKGROUP_SIZE points of a stage in
// registers. Grid: ceil(rows / rows_per_group) workgroups, 2-D (grid1d) for large batches.

override WORKGROUP_SIZE: u32 = 256u;
/** Complex points held in workgroup memory: 16 KiB, the device's limit. */
const POINTS: u32 = 2048u;
/** Register slots per thread: POINTS / 128, the smallest allowed workgroup. */
const MAX_REGS: u32 = 16u;

var<workgroup> buf: array<vec2f, POINTS>;

/**
 * In-place complex FFT of `rows_here` rows of length m held contiguously in `buf`, with kernel
 * exp(sign·2πi·jk/m) (sign −1 forward, +1 inverse, unnormalised). Called in uniform control
 * flow; returns after a barrier, so `buf` holds the result in natural order.
 */
fn fft_rows(tid: u32, m: u32, rows_here: u32, sign: f32) {
  var regs: array<vec2f, MAX_REGS>;
  var ns = 1u;
  loop {
    if (ns >= m) {
      break;
    }
    var radix = 2u;
    if (ns * 8u <= m) {
      radix = 8u;
    } else if (ns * 4u <= m) {
      radix = 4u;
    }
    let span = m / radix; // butterflies per row; input stride of a butterfly's points
    let total = rows_here * span;
    var slot = 0u;
    for (var t = tid; t < total; t += WORKGROUP_SIZE) {
      let base = (t / span) * m;
      let j = t % span;
      let k = j % ns;
      if (radix == 8u) {
        // 8-point DFT as two 4-point DFTs (even and odd inputs) joined by W_8^q, q = 0..3.
        let tw = 8u * ns;
        let v0 = buf[base + j];
        let v1 = cmul(buf[base + j + span], twiddle(k, tw, sign));
        let v2 = cmul(buf[base + j + 2u * span], twiddle(2u * k, tw, sign));
        let v3 = cmul(buf[base + j + 3u * span], twiddle(3u * k, tw, sign));
        let v4 = cmul(buf[base + j + 4u * span], twiddle(4u * k, tw, sign));
        let v5 = cmul(buf[base + j + 5u * span], twiddle(5u * k, tw, sign));
        let v6 = cmul(buf[base + j + 6u * span], twiddle(6u * k, tw, sign));
        let v7 = cmul(buf[base + j + 7u * span], twiddle(7u * k, tw, sign));
        let o = dft8(Octet(v0, v1, v2, v3, v4, v5, v6, v7), sign);
        regs[slot] = o.v0;
        regs[slot + 1u] = o.v1;
        regs[slot + 2u] = o.v2;
        regs[slot + 3u] = o.v3;
        regs[slot + 4u] = o.v4;
        regs[slot + 5u] = o.v5;
        regs[slot + 6u] = o.v6;
        regs[slot + 7u] = o.v7;
      } else if (radix == 4u) {
        let v0 = buf[base + j];
        let v1 = cmul(buf[base + j + span], twiddle(k, 4u * ns, sign));
        let v2 = cmul(buf[base + j + 2u * span], twiddle(2u * k, 4u * ns, sign));
        let v3 = cmul(buf[base + j + 3u * span], twiddle(3u * k, 4u * ns, sign));
        let a0 = v0 + v2;
        let a1 = v0 - v2;
        let b0 = v1 + v3;
        let b1 = rot(v1 - v3, sign);
        regs[slot] = a0 + b0;
        regs[slot + 1u] = a1 + b1;
        regs[slot + 2u] = a0 - b0;
        regs[slot + 3u] = a1 - b1;
      } else {
        let v0 = buf[base + j];
        let v1 = cmul(buf[base + j + span], twiddle(k, 2u * ns, sign));
        regs[slot] = v0 + v1;
        regs[slot + 1u] = v0 - v1;
      }
      slot += radix;
    }
    workgroupBarrier();
    slot = 0u;
    for (var t = tid; t < total; t += WORKGROUP_SIZE) {
      let j = t % span;
      let k = j % ns;
      let out = (t / span) * m + (j / ns) * ns * radix + k;
      for (var r = 0u; r < radix; r++) {
        buf[out + r * ns] = regs[slot + r];
      }
      slot += radix;
    }
    workgroupBarrier();
    ns *= radix;
  }
}

/**
 * Bin k (0..m) of the real FFT whose half-length complex FFT Z is held in buf[base .. base + m),
 * weighted by edge_scale (bins 0 and m) or mid_scale.
 */
fn real_bin(base: u32, k: u32, m: u32) -> vec2f {
  if (k == 0u || k == m) {
    // DC and Nyquist are real: E[0] = Re Z[0], O[0] = Im Z[0], W^0 = 1, W^M = −1.
    let z0 = buf[base];
    return vec2f(select(z0.x - z0.y, z0.x + z0.y, k == 0u) * params.edge_scale, 0.0);
  }
  let a = buf[base + k];
  let b = conj(buf[base + m - k]);
  let e = 0.5 * (a + b);
  let d = 0.5 * (a - b);
  let o = vec2f(d.y, -d.x); // d / i
  return (e + cmul(twiddle(k, 2u * m, -1.0), o)) * params.mid_scale;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn rfft(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) tid: u32,
) {
  let row0 = (wid.y * nwg.x + wid.x) * params.rows_per_group;
  if (row0 >= params.rows) {
    return;
  }
  let m = params.half_n;
  let rows_here = min(params.rows_per_group, params.rows - row0);
  // Rows are contiguous, so the group's input is one run of rows_here·m complex values.
  for (var i = tid; i < rows_here * m; i += WORKGROUP_SIZE) {
    buf[i] = src[row0 * m + i];
  }
  workgroupBarrier();
  fft_rows(tid, m, rows_here, -1.0);
  let bins = m + 1u;
  for (var i = tid; i < rows_here * bins; i += WORKGROUP_SIZE) {
    let r = i / bins;
    let k = i % bins;
    dst[(row0 + r) * bins + k] = real_bin(r * m, k, m);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn irfft(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) tid: u32,
) {
  let row0 = (wid.y * nwg.x + wid.x) * params.rows_per_group;
  if (row0 >= params.rows) {
    return;
  }
  let m = params.half_n;
  let bins = m + 1u;
  let rows_here = min(params.rows_per_group, params.rows - row0);
  for (var i = tid; i < rows_here * m; i += WORKGROUP_SIZE) {
    let r = i / m;
    let k = i % m;
    let base = (row0 + r) * bins;
    var z: vec2f;
    if (k == 0u) {
      // Hermitian input: the imaginary parts of bins 0 and M are ignored (as torch does).
      let x0 = src[base].x * params.edge_scale;
      let xm = src[base + m].x * params.edge_scale;
      z = vec2f(0.5 * (x0 + xm), 0.5 * (x0 - xm));
    } else {
      let a = src[base + k] * params.mid_scale;
      let b = conj(src[base + m - k]) * params.mid_scale;
      let e = 0.5 * (a + b);
      let o = cmul(0.5 * (a - b), twiddle(k, 2u * m, 1.0)); // (a − b) / 2W^k
      z = e + rot(o, 1.0);
    }
    buf[i] = z;
  }
  workgroupBarrier();
  fft_rows(tid, m, rows_here, 1.0);
  let inv = 1.0 / f32(m);
  for (var i = tid; i < rows_here * m; i += WORKGROUP_SIZE) {
    dst[row0 * m + i] = buf[i] * inv;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn stft_power(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) tid: u32,
) {
  let row0 = (wid.y * nwg.x + wid.x) * params.rows_per_group;
  if (row0 >= params.rows) {
    return;
  }
  let m = params.half_n;
  let n = 2u * m;
  let rows_here = min(params.rows_per_group, params.rows - row0);
  // Frame f of signal b starts at sample f·hop; complex point j packs samples 2j and 2j + 1.
  for (var i = tid; i < rows_here * m; i += WORKGROUP_SIZE) {
    let row = row0 + i / m;
    let j = 2u * (i % m);
    let b = row / params.n_frames;
    let s = b * params.length + (row - b * params.n_frames) * params.hop + j;
    buf[i] = vec2f(signal[s] * window(j, n), signal[s + 1u] * window(j + 1u, n));
  }
  workgroupBarrier();
  fft_rows(tid, m, rows_here, -1.0);
  let bins = m + 1u;
  for (var i = tid; i < rows_here * bins; i += WORKGROUP_SIZE) {
    let r = i / bins;
    let k = i % bins;
    let x = real_bin(r * m, k, m);
    power[(row0 + r) * bins + k] = dot(x, x);
  }
}
