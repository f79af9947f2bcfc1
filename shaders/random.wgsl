// Counter-based random numbers: element i of a draw with (seed, offset) is a pure function of
// (seed, offset + i), so a draw is reproducible from the generator's state alone and needs no
// state buffer. The hash is PCG's output permutation applied in three rounds to (counter, seed).
// Element c = offset + i owns hash counters 2c and 2c+1 whatever the distribution, so a uniform
// draw never reuses the counters of an earlier normal draw (engine/random.ts advances by n).
//   uniform: out[i] ~ U[low, high) from counter 2c
//   normal:  out[i] ~ N(mean, std²) by Box–Muller on two uniforms of counters 2c and 2c+1.
// Layout: out is a flat f32 array of n elements. Workgroup 256; 2-D grid (grid1d).
// Dispatched by engine/random.ts.
struct Params {
  n: u32,
  seed: u32,
  offset: u32,
  a: f32,
  b: f32,
}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

override DISTRIBUTION: u32 = 0u; // 0 uniform(a=low, b=high), 1 normal(a=mean, b=std)

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn hash2(counter: u32, seed: u32) -> u32 {
  return pcg(pcg(pcg(counter) ^ seed) + seed);
}

// A uniform in (0, 1): 23 random bits, offset by half a step so log() never sees 0. (With 24
// bits, k + 0.5 rounds to k + 1 in f32 for k >= 2^23 and the top value gives exactly 1.)
fn unit(counter: u32) -> f32 {
  return (f32(hash2(counter, params.seed) >> 9u) + 0.5) * (1.0 / 8388608.0);
}

// The largest f32 below v (for keeping uniform samples under `high` despite rounding).
fn below(v: f32) -> f32 {
  if (v > 0.0) {
    return bitcast<f32>(bitcast<u32>(v) - 1u);
  }
  if (v < 0.0) {
    return bitcast<f32>(bitcast<u32>(v) + 1u);
  }
  return -1.17549435e-38;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  let c = params.offset + i;
  if (DISTRIBUTION == 0u) {
    let r = params.a + (params.b - params.a) * unit(2u * c);
    out[i] = select(r, below(params.b), r >= params.b);
  } else {
    let u1 = unit(2u * c);
    let u2 = unit(2u * c + 1u);
    out[i] = params.a + params.b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  }
}
