// The finite-step gate of a training loop, one invocation: for each step, given up to four
// scalars (e.g. loss, reconstruction, KL, gradient norm; v0..v3, `count` of them used), it
// decides whether the step may update the weights — gate[0] = 1 when every scalar is finite and
// the run has not been stopped, else 0 — and keeps, without any readback:
//   ledger[0..3]  sums of the scalars over the steps applied since the last read
//   ledger[4..7]  the last step's scalars, whatever they were
//   ledger[8]     steps recorded since the last read
//   ledger[9]     steps applied since the last read
//   ledger[10]    steps skipped since the last read (non-finite, before any stop)
//   ledger[11]    non-finite steps in a row so far (carried across reads)
//   ledger[12]    0, or the step (1-based, counted from the last read) whose non-finite run
//                 reached max_in_a_row; from then on every step is gated off and left out of
//                 the counts, so weights and optimizer stay as they were at that step
// Finiteness is tested on the bits (exponent all ones = ∞ or NaN), which no fast-math
// rewriting of x − x == 0 can fold away. `reset` zeroes the per-read fields [0..10] and [12]
// after a read (recorded right after the read's copy, so steps recorded later count afresh).
// Layout: every buffer is f32; counts are exact up to 2^24. Dispatched by
// engine/optim/finite_gate.ts.
struct Params {
  count: u32,
  max_in_a_row: u32,
}
@group(0) @binding(0) var<storage, read> v0: array<f32>;
@group(0) @binding(1) var<storage, read> v1: array<f32>;
@group(0) @binding(2) var<storage, read> v2: array<f32>;
@group(0) @binding(3) var<storage, read> v3: array<f32>;
@group(0) @binding(4) var<storage, read_write> ledger: array<f32>;
@group(0) @binding(5) var<storage, read_write> gate: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(1)
fn record() {
  let values = vec4<f32>(v0[0], v1[0], v2[0], v3[0]);
  let used = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.count);
  var finite = true;
  for (var i = 0u; i < 4u; i++) {
    if (used[i]) {
      finite = finite && is_finite(values[i]);
      ledger[4u + i] = values[i];
    }
  }
  ledger[8] += 1.0;
  let stopped = ledger[12] != 0.0;
  let apply = finite && !stopped;
  if (apply) {
    for (var i = 0u; i < 4u; i++) {
      if (used[i]) {
        ledger[i] += values[i];
      }
    }
    ledger[9] += 1.0;
    ledger[11] = 0.0;
  } else if (!stopped) {
    ledger[10] += 1.0;
    ledger[11] += 1.0;
    if (ledger[11] >= f32(params.max_in_a_row)) {
      ledger[12] = ledger[8];
    }
  }
  gate[0] = select(0.0, 1.0, apply);
}

@compute @workgroup_size(1)
fn reset() {
  for (var i = 0u; i < 11u; i++) {
    ledger[i] = 0.0;
  }
  ledger[12] = 0.0;
}
