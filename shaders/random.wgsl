// Counter-based random numbers: element i of a draw with (seed, offset) is a pure function of
// (seed, offset + i), so a draw is reproducible from the generator's state alone and needs no
// state buffer. The hash is PCG's output permutation applied in three rounds to (counter, seed).
//   uniform: out[i] ~ U[low, high)
//   normal:  out[i] ~ N(mean, std²) by Box–Muller on two uniforms of counter 2i and 2i+1.
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

// A uniform in (0, 1): 24 random bits, offset by half a step so log() never sees 0.
fn unit(counter: u32) -> f32 {
  return (f32(hash2(counter, params.seed) >> 8u) + 0.5) * (1.0 / 16777216.0);
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
    out[i] = params.a + (params.b - params.a) * unit(c);
  } else {
    let u1 = unit(2u * c);
    let u2 = unit(2u * c + 1u);
    out[i] = params.a + params.b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  }
}
