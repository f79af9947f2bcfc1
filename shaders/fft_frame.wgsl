// Real FFTs with one frame per invocation, for CPU drivers (lavapipe), where it is the default
// (engine/ops/fft.ts "frame"): the entry points rfft, irfft and stft_power of shaders/fft.wgsl,
// with the same bindings and results, computed without workgroup memory or barriers. On
// lavapipe the 8 invocations of a SIMD batch transform 8 frames side by side, each memory access
// is one loop over those lanes (as it is for workgroup memory), and there is no barrier to make
// every batch of a workgroup stop and resume.
//
// Each invocation runs the Stockham passes of fft.wgsl (radix 8 while it fits, then 4 or 2) on
// its own frame, ping-ponging between two regions of `scratch`: M complex values each, M = n/2.
// A pass handles two neighbouring butterflies at once, so that every load and store of a pass
// moves two complex values (a vec4): a lane loop per vec4 instead of per vec2 halves the cost of
// the memory traffic, which is what sets the pace here. Twiddles: cos/sin of W^k and W^2k per
// butterfly, the higher powers by products (error a few ulp).
//
// An n-point real FFT is an M-point complex FFT of z[j] = x[2j] + i·x[2j+1] plus the split of
// the even and odd samples' spectra (E[k] = (Z[k] + conj Z[M−k]) / 2, O[k] = (Z[k] − conj Z[M−k])
// / 2i, X[k] = E[k] + W^k O[k], W = e^(−2πi/n)); the irfft runs it backwards, as fft.wgsl does.
//
// engine/ops/fft.ts prepends shaders/fft_functions.wgsl (Params and bindings 0–4, cmul, conj,
// rot, twiddle, window and its WINDOW override, the 8-point DFT dft8).
//
// Bindings (row-major, rows contiguous; as fft.wgsl, plus scratch):
//   rfft:  src = x [rows, n] f32 (read as vec2f and as vec4f); dst = X [rows, M+1] vec2f.
//   irfft: src = X [rows, M+1] vec2f (imag of bins 0 and M ignored); dst = x [rows, M] vec2f
//          (written as vec4f).
//   stft_power: signal = x [batch, length] f32; power = [rows, M+1] f32,
//          power[b·n_frames + f, k] = |rfft(x[b, f·hop .. f·hop + n) · window)[k]|².
//          WINDOW override: 0 rectangular, 1 periodic Hann.
//   scratch: [rows, 2, M] vec2f (read and written as vec4f), two regions per row.
//   params: half_n = M (1..2048; also the override M), rows; edge_scale / mid_scale weight
//          bins {0, M} / 1..M−1 (rfft: its outputs; irfft: its inputs); hop, n_frames, length:
//          stft_power's framing.
//          rows_per_group is unused here.
// Workgroup: 16 invocations, one row each; grid: ceil(rows / 16) workgroups, 2-D (grid1d).
// Dispatched by engine/ops/fft.ts (which allocates scratch).
@group(0) @binding(5) var<storage, read_write> scratch: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> scratch2: array<vec2f>;
@group(0) @binding(7) var<storage, read> src4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> dst4: array<vec4f>;

/** M = n/2, the complex points of a frame: one pipeline per transform length, so that every
 * pass's radix and strides are constants and no branch is left on them (lavapipe runs both
 * sides of every branch whose condition it does not know at compile time). */
override M: u32 = 2u;

const ROWS_PER_GROUP: u32 = 16u;
/** Where a pass reads its input: a scratch region, the rfft input, or stft_power's signal. */
const FROM_SCRATCH: u32 = 0u;
const FROM_SRC: u32 = 1u;
const FROM_SIGNAL: u32 = 2u;

/** The frame's context: its row, and its input for the first pass. */
struct Frame {
  row: u32,
  /** Offset of the frame's complex point 0 in src (FROM_SRC). */
  src_base: u32,
  /** Offset of its first sample in signal (FROM_SIGNAL). */
  signal_base: u32,
}

/** Complex points p, p + 1 (p even) of the input `source` (the scratch region at `region`. */
fn load_pair(source: u32, f: Frame, region: u32, p: u32) -> vec4f {
  if (source == FROM_SRC) {
    return src4[(f.src_base + p) / 2u];
  }
  if (source == FROM_SIGNAL) {
    let n = 2u * M;
    let s = f.signal_base + 2u * p;
    let j = 2u * p;
    return vec4f(
      signal[s] * window(j, n),
      signal[s + 1u] * window(j + 1u, n),
      signal[s + 2u] * window(j + 2u, n),
      signal[s + 3u] * window(j + 3u, n),
    );
  }
  return scratch[(region + p) / 2u];
}

/**
 * The radix-`radix` DFT (8, 4 or 2) of v, its inputs first multiplied by the twiddles
 * W_(radix·ns)^(r·k), as fft.wgsl's fft_rows computes it.
 */
fn butterfly(v: Octet, radix: u32, k: u32, ns: u32, sign: f32) -> Octet {
  let tw = radix * ns;
  let w1 = twiddle(k, tw, sign);
  if (radix == 2u) {
    let b = cmul(v.v1, w1);
    return Octet(v.v0 + b, v.v0 - b, v.v2, v.v3, v.v4, v.v5, v.v6, v.v7);
  }
  let w2 = twiddle(2u * k, tw, sign);
  let w3 = cmul(w1, w2);
  if (radix == 4u) {
    let v1 = cmul(v.v1, w1);
    let v2 = cmul(v.v2, w2);
    let v3 = cmul(v.v3, w3);
    let a0 = v.v0 + v2;
    let a1 = v.v0 - v2;
    let b0 = v1 + v3;
    let b1 = rot(v1 - v3, sign);
    return Octet(a0 + b0, a1 + b1, a0 - b0, a1 - b1, v.v4, v.v5, v.v6, v.v7);
  }
  let w4 = cmul(w2, w2);
  let w5 = cmul(w1, w4);
  let w6 = cmul(w2, w4);
  let w7 = cmul(w3, w4);
  let v0 = v.v0;
  let v1 = cmul(v.v1, w1);
  let v2 = cmul(v.v2, w2);
  let v3 = cmul(v.v3, w3);
  let v4 = cmul(v.v4, w4);
  let v5 = cmul(v.v5, w5);
  let v6 = cmul(v.v6, w6);
  let v7 = cmul(v.v7, w7);
  return dft8(Octet(v0, v1, v2, v3, v4, v5, v6, v7), sign);
}

/** Component r of an octet. */
fn octet_at(o: Octet, r: u32) -> vec2f {
  switch r {
    case 0u: { return o.v0; }
    case 1u: { return o.v1; }
    case 2u: { return o.v2; }
    case 3u: { return o.v3; }
    case 4u: { return o.v4; }
    case 5u: { return o.v5; }
    case 6u: { return o.v6; }
    default: { return o.v7; }
  }
}

/**
 * One Stockham pass over the frame: radix `radix`, sub-transforms of length ns so far, from
 * `source` (region `in_region` when it is scratch) into scratch region `out_region`. Two
 * butterflies j, j + 1 per step when there are several (their inputs and, for ns ≥ 2, their
 * outputs are neighbours); for ns = 1 a butterfly's own outputs are neighbours.
 */
fn stockham_pass(
  source: u32,
  f: Frame,
  in_region: u32,
  out_region: u32,
  radix: u32,
  ns: u32,
  sign: f32,
) {
  let m = M;
  let span = m / radix; // butterflies; input stride
  let log_ns = firstTrailingBit(ns);
  let log_r = firstTrailingBit(radix);
  if (span == 1u) {
    // A single butterfly over all M points (M = radix): inputs r = 0..M−1, outputs the same.
    var v = Octet(vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0),
      vec2f(0.0), vec2f(0.0));
    let p01 = load_pair(source, f, in_region, 0u);
    v.v0 = p01.xy;
    v.v1 = p01.zw;
    if (radix >= 4u) {
      let p23 = load_pair(source, f, in_region, 2u);
      v.v2 = p23.xy;
      v.v3 = p23.zw;
    }
    if (radix == 8u) {
      let p45 = load_pair(source, f, in_region, 4u);
      let p67 = load_pair(source, f, in_region, 6u);
      v.v4 = p45.xy;
      v.v5 = p45.zw;
      v.v6 = p67.xy;
      v.v7 = p67.zw;
    }
    let o = butterfly(v, radix, 0u, ns, sign);
    for (var r = 0u; r < radix; r += 2u) {
      scratch[(out_region + r) / 2u] = vec4f(octet_at(o, r), octet_at(o, r + 1u));
    }
    return;
  }
  for (var j = 0u; j < span; j += 2u) {
    var a = Octet(vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0),
      vec2f(0.0), vec2f(0.0));
    var b = a;
    let q0 = load_pair(source, f, in_region, j);
    let q1 = load_pair(source, f, in_region, j + span);
    a.v0 = q0.xy;
    b.v0 = q0.zw;
    a.v1 = q1.xy;
    b.v1 = q1.zw;
    if (radix >= 4u) {
      let q2 = load_pair(source, f, in_region, j + 2u * span);
      let q3 = load_pair(source, f, in_region, j + 3u * span);
      a.v2 = q2.xy;
      b.v2 = q2.zw;
      a.v3 = q3.xy;
      b.v3 = q3.zw;
    }
    if (radix == 8u) {
      let q4 = load_pair(source, f, in_region, j + 4u * span);
      let q5 = load_pair(source, f, in_region, j + 5u * span);
      let q6 = load_pair(source, f, in_region, j + 6u * span);
      let q7 = load_pair(source, f, in_region, j + 7u * span);
      a.v4 = q4.xy;
      b.v4 = q4.zw;
      a.v5 = q5.xy;
      b.v5 = q5.zw;
      a.v6 = q6.xy;
      b.v6 = q6.zw;
      a.v7 = q7.xy;
      b.v7 = q7.zw;
    }
    let ka = j & (ns - 1u);
    let kb = (j + 1u) & (ns - 1u);
    let oa = butterfly(a, radix, ka, ns, sign);
    let ob = butterfly(b, radix, kb, ns, sign);
    if (ns == 1u) {
      // Outputs j·radix + r: each butterfly's own outputs are neighbours.
      for (var r = 0u; r < radix; r += 2u) {
        scratch[(out_region + j * radix + r) / 2u] = vec4f(octet_at(oa, r), octet_at(oa, r + 1u));
        scratch[(out_region + (j + 1u) * radix + r) / 2u] =
          vec4f(octet_at(ob, r), octet_at(ob, r + 1u));
      }
    } else {
      // Outputs ((j >> log ns) << (log ns + log radix)) + k + r·ns: j and j + 1 are neighbours.
      let out = out_region + ((j >> log_ns) << (log_ns + log_r)) + ka;
      for (var r = 0u; r < radix; r++) {
        scratch[(out + r * ns) / 2u] = vec4f(octet_at(oa, r), octet_at(ob, r));
      }
    }
  }
}

/** Passes of the schedule: ⌊log₂M / 3⌋ radix-8 passes, then one radix-4 or radix-2 pass for
 * what is left (the only pass when there is no radix-8 one). Depends only on the override M, so
 * every branch on it folds away and each pass gets constant strides. */
fn pass_count() -> u32 {
  let log_m = firstTrailingBit(M);
  return log_m / 3u + select(0u, 1u, log_m % 3u != 0u);
}

/** The radix of the schedule's last pass. */
fn last_radix() -> u32 {
  let tail = firstTrailingBit(M) % 3u;
  return select(8u, select(2u, 4u, tail == 2u), tail != 0u);
}

/**
 * The first `count` passes of the frame's complex FFT (kernel exp(sign·2πi·jk/M)), from `first`
 * (a constant at each call; region 0 when it is scratch); returns the scratch offset of the
 * region that holds their result.
 */
fn run_passes(first: u32, f: Frame, sign: f32, count: u32) -> u32 {
  let log_m = firstTrailingBit(M);
  let passes8 = log_m / 3u;
  let tail = log_m % 3u; // 1: a radix-2 pass, 2: a radix-4 pass
  let r0 = f.row * 2u * M;
  let r1 = r0 + M;
  if (count == 0u) {
    return r0;
  }
  // The first pass reads the input (src or signal: it writes region 0) or region 0.
  let out0 = select(r0, r1, first == FROM_SCRATCH);
  var ns = 1u;
  if (passes8 > 0u) {
    stockham_pass(first, f, r0, out0, 8u, 1u, sign);
    ns = 8u;
  } else if (tail == 2u) {
    stockham_pass(first, f, r0, out0, 4u, 1u, sign);
    ns = 4u;
  } else {
    stockham_pass(first, f, r0, out0, 2u, 1u, sign);
    ns = 2u;
  }
  var inp = out0;
  for (var p = 1u; p < min(count, passes8); p++) {
    let out = select(r0, r1, inp == r0);
    stockham_pass(FROM_SCRATCH, f, inp, out, 8u, ns, sign);
    inp = out;
    ns *= 8u;
  }
  if (count > passes8 && passes8 > 0u) {
    let out = select(r0, r1, inp == r0);
    if (tail == 2u) {
      stockham_pass(FROM_SCRATCH, f, inp, out, 4u, ns, sign);
    } else {
      stockham_pass(FROM_SCRATCH, f, inp, out, 2u, ns, sign);
    }
    inp = out;
  }
  return inp;
}

// ---- the last forward pass fused with the real split ----

/** Complex point p of the input `source` (scratch: the region at `region`). */
fn load_one(source: u32, f: Frame, region: u32, p: u32) -> vec2f {
  if (source == FROM_SRC) {
    return src[f.src_base + p];
  }
  if (source == FROM_SIGNAL) {
    let n = 2u * M;
    let s = f.signal_base + 2u * p;
    return vec2f(signal[s] * window(2u * p, n), signal[s + 1u] * window(2u * p + 1u, n));
  }
  return scratch2[region + p];
}

/** Butterfly j of the last pass (radix `radix`, ns = M / radix), its inputs loaded. */
fn last_butterfly(source: u32, f: Frame, region: u32, radix: u32, ns: u32, j: u32) -> Octet {
  var v = Octet(vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0), vec2f(0.0),
    vec2f(0.0), vec2f(0.0));
  v.v0 = load_one(source, f, region, j);
  v.v1 = load_one(source, f, region, j + ns);
  if (radix >= 4u) {
    v.v2 = load_one(source, f, region, j + 2u * ns);
    v.v3 = load_one(source, f, region, j + 3u * ns);
  }
  if (radix == 8u) {
    v.v4 = load_one(source, f, region, j + 4u * ns);
    v.v5 = load_one(source, f, region, j + 5u * ns);
    v.v6 = load_one(source, f, region, j + 6u * ns);
    v.v7 = load_one(source, f, region, j + 7u * ns);
  }
  return butterfly(v, radix, j, ns, -1.0);
}

/** Where the bins go: rfft's complex bins (dst) or stft_power's |X|² (power). */
const SINK_BINS: u32 = 0u;
const SINK_POWER: u32 = 1u;

fn emit(sink: u32, idx: u32, x: vec2f) {
  if (sink == SINK_BINS) {
    dst[idx] = x;
  } else {
    power[idx] = dot(x, x);
  }
}

/**
 * Bins p and M − p (0 < p < M) from Z[p] and Z[M − p], weighted by mid_scale: X[p] = E + W^p·O
 * with E = (Z[p] + conj Z[M−p]) / 2, O = (Z[p] − conj Z[M−p]) / 2i, and X[M−p] the same with the
 * two swapped, where W^(M−p) = −conj(W^p): one twiddle for two bins.
 */
fn emit_pair(sink: u32, out: u32, p: u32, zp: vec2f, zq: vec2f) {
  let w = twiddle(p, 2u * M, -1.0);
  let e = 0.5 * (zp + conj(zq));
  let d = 0.5 * (zp - conj(zq));
  let lo = e + cmul(w, vec2f(d.y, -d.x));
  let e2 = 0.5 * (zq + conj(zp));
  let d2 = 0.5 * (zq - conj(zp));
  let hi = e2 + cmul(vec2f(-w.x, w.y), vec2f(d2.y, -d2.x));
  emit(sink, out + p, lo * params.mid_scale);
  emit(sink, out + M - p, hi * params.mid_scale);
}

/**
 * The last pass of the forward FFT (radix `radix`, ns = M / radix, reading `source`) with the
 * real split, writing the M + 1 bins at `out`: output r of butterfly j is Z[j + r·ns], and its
 * partner Z[M − j − r·ns] is output radix − 1 − r of butterfly ns − j (output radix − r of
 * butterfly 0 for j = 0), so butterflies j and ns − j are computed together and no Z is
 * written out or read back.
 */
fn last_pass_to_bins(source: u32, f: Frame, region: u32, radix: u32, ns: u32, sink: u32, out: u32) {
  // Butterfly 0: Z[r·ns] pairs with Z[(radix − r)·ns]; Z[0] gives the real bins 0 and M.
  let o0 = last_butterfly(source, f, region, radix, ns, 0u);
  let z0 = o0.v0;
  emit(sink, out, vec2f((z0.x + z0.y) * params.edge_scale, 0.0));
  emit(sink, out + M, vec2f((z0.x - z0.y) * params.edge_scale, 0.0));
  for (var r = 1u; r <= radix / 2u; r++) {
    emit_pair(sink, out, r * ns, octet_at(o0, r), octet_at(o0, radix - r));
  }
  // Butterflies j and ns − j (one butterfly for j = ns / 2).
  for (var j = 1u; j <= ns / 2u; j++) {
    let oa = last_butterfly(source, f, region, radix, ns, j);
    let ob = last_butterfly(source, f, region, radix, ns, ns - j);
    for (var r = 0u; r < radix; r++) {
      emit_pair(sink, out, j + r * ns, octet_at(oa, r), octet_at(ob, radix - 1u - r));
    }
  }
}

/** The forward FFT of the frame from `first` (src or signal) and its real split into `out`. */
fn rfft_to_bins(first: u32, f: Frame, sink: u32, out: u32) {
  let total = pass_count();
  let z = run_passes(first, f, -1.0, total - 1u);
  let radix = last_radix();
  if (total == 1u) {
    last_pass_to_bins(first, f, z, radix, 1u, sink, out);
  } else {
    last_pass_to_bins(FROM_SCRATCH, f, z, radix, M / radix, sink, out);
  }
}

fn row_of(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * ROWS_PER_GROUP + lid;
}

@compute @workgroup_size(ROWS_PER_GROUP)
fn rfft(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = row_of(wid, nwg, lid);
  if (row >= params.rows) {
    return;
  }
  let m = M;
  let bins = m + 1u;
  if (m == 1u) {
    // n = 2: X[0] = x0 + x1, X[1] = x0 − x1.
    let z0 = src[row];
    dst[row * 2u] = vec2f((z0.x + z0.y) * params.edge_scale, 0.0);
    dst[row * 2u + 1u] = vec2f((z0.x - z0.y) * params.edge_scale, 0.0);
    return;
  }
  rfft_to_bins(FROM_SRC, Frame(row, row * m, 0u), SINK_BINS, row * bins);
}

@compute @workgroup_size(ROWS_PER_GROUP)
fn stft_power(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = row_of(wid, nwg, lid);
  if (row >= params.rows) {
    return;
  }
  let m = M;
  let bins = m + 1u;
  // Frame f of signal b starts at sample f·hop.
  let b = row / params.n_frames;
  let s0 = b * params.length + (row - b * params.n_frames) * params.hop;
  if (m == 1u) {
    let x0 = signal[s0] * window(0u, 2u);
    let x1 = signal[s0 + 1u] * window(1u, 2u);
    power[row * 2u] = (x0 + x1) * (x0 + x1);
    power[row * 2u + 1u] = (x0 - x1) * (x0 - x1);
    return;
  }
  rfft_to_bins(FROM_SIGNAL, Frame(row, 0u, s0), SINK_POWER, row * bins);
}

@compute @workgroup_size(ROWS_PER_GROUP)
fn irfft(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = row_of(wid, nwg, lid);
  if (row >= params.rows) {
    return;
  }
  let m = M;
  let bins = m + 1u;
  let base = row * bins;
  // Hermitian input: the imaginary parts of bins 0 and M are ignored (as torch does).
  let x0 = src[base].x * params.edge_scale;
  let xm = src[base + m].x * params.edge_scale;
  let z0 = vec2f(0.5 * (x0 + xm), 0.5 * (x0 - xm));
  if (m == 1u) {
    dst[row] = z0;
    return;
  }
  let r0 = row * 2u * m;
  scratch2[r0] = z0;
  for (var k = 1u; k < m; k++) {
    let a = src[base + k] * params.mid_scale;
    let b = conj(src[base + m - k]) * params.mid_scale;
    let e = 0.5 * (a + b);
    let o = cmul(0.5 * (a - b), twiddle(k, 2u * m, 1.0)); // (a − b) / 2W^k
    scratch2[r0 + k] = e + rot(o, 1.0);
  }
  let z = run_passes(FROM_SCRATCH, Frame(row, 0u, 0u), 1.0, pass_count());
  let inv = 1.0 / f32(m);
  for (var j = 0u; j < m; j += 2u) {
    dst4[(row * m + j) / 2u] = scratch[(z + j) / 2u] * inv;
  }
}
