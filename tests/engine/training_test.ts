/**
 * End-to-end training checks: small nets learn toy tasks with Adam, and a long training loop
 * keeps GPU memory flat. Losses are read back only every few steps (readbacks stall lavapipe).
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { setup } from "../util.ts";

/** Toy regression: y = tanh(3·x0)·x1 on 128 points in [−1, 1]². */
function regressionData(): { x: ag.Tensor; y: ag.Tensor } {
  return ag.tidy(() => {
    const x = ag.rand([128, 2], { seed: 5, low: -1, high: 1 });
    const y = x.slice(1, 0, 1).mul(3).tanh().mul(x.slice(1, 1, 2));
    return { x: x.keep(), y: y.keep() };
  });
}

function mlp(hidden: number): ag.Sequential {
  return new ag.Sequential(
    new ag.Linear(2, hidden, { seed: 1 }),
    new ag.Tanh(),
    new ag.Linear(hidden, hidden, { seed: 2 }),
    new ag.GELU(),
    new ag.Linear(hidden, 1, { seed: 3 }),
  );
}

/** One step (zeroGrad, forward, backward, optional clipping, Adam) in its own tidy scope. */
async function trainStep(
  model: ag.Module,
  opt: ag.Adam,
  x: ag.Tensor,
  y: ag.Tensor,
  clip?: number,
): Promise<ag.Tensor> {
  return await ag.tidy(() => {
    opt.zeroGrad();
    const loss = model.forward(x).sub(y).square().mean();
    loss.backward();
    if (clip !== undefined) ag.clipGradNorm(model.parameters(), clip);
    opt.step();
    return loss;
  });
}

async function lossAt(loss: ag.Tensor): Promise<number> {
  const v = await loss.item();
  loss.dispose();
  return v;
}

Deno.test("an MLP learns a toy regression (loss falls ≥ 10×)", async () => {
  await setup();
  const { x, y } = regressionData();
  const model = mlp(32);
  const opt = new ag.Adam(model.namedParameters(), { lr: 1e-2 });
  let first = NaN, last = NaN;
  for (let step = 0; step < 200; step++) {
    const loss = await trainStep(model, opt, x, y);
    if (step === 0) first = await lossAt(loss);
    else if (step === 199) last = await lossAt(loss);
    else loss.dispose();
  }
  console.log(
    `MLP regression: loss ${first.toFixed(5)} → ${last.toFixed(6)} (${(first / last).toFixed(0)}×)`,
  );
  assert.ok(last * 10 <= first, `loss fell only from ${first} to ${last}`);
  model.dispose();
  opt.dispose();
  x.dispose();
  y.dispose();
});

Deno.test("a Conv1d net learns a toy sequence task (loss falls ≥ 10×)", async () => {
  await setup();
  // Target: a nonlinear function of each sample's neighbours, y[t] = tanh(2·(x[t−1] − x[t+1])).
  const { x, y } = ag.tidy(() => {
    const x = ag.randn([8, 1, 40], { seed: 11 });
    const padded = x.pad([1, 1]);
    const y = padded.slice(2, 0, 40).sub(padded.slice(2, 2, 42)).mul(2).tanh();
    return { x: x.keep(), y: y.keep() };
  });
  const model = new ag.Sequential(
    new ag.Conv1d(1, 8, 3, { padding: 1, seed: 1 }),
    new ag.Tanh(),
    new ag.Conv1d(8, 1, 1, { seed: 2 }),
  );
  const opt = new ag.AdamW(model.namedParameters(), { lr: 2e-2, weightDecay: 1e-4 });
  let first = NaN, last = NaN;
  for (let step = 0; step < 300; step++) {
    const loss = await trainStep(model, opt, x, y, 5);
    if (step === 0) first = await lossAt(loss);
    else if (step === 299) last = await lossAt(loss);
    else loss.dispose();
  }
  console.log(
    `Conv1d sequence: loss ${first.toFixed(5)} → ${last.toFixed(6)} (${
      (first / last).toFixed(0)
    }×)`,
  );
  assert.ok(last * 10 <= first, `loss fell only from ${first} to ${last}`);
  model.dispose();
  opt.dispose();
  x.dispose();
  y.dispose();
});

Deno.test("1,000 training steps keep GPU memory flat after warm-up", async () => {
  await setup();
  const { x, y } = regressionData();
  const model = new ag.Sequential(
    new ag.Linear(2, 16, { seed: 1 }),
    new ag.Tanh(),
    new ag.Linear(16, 1, { seed: 2 }),
  );
  const opt = new ag.Adam(model.namedParameters(), { lr: 1e-2 });
  let warm: ag.RuntimeCounters | null = null;
  let first = NaN, last = NaN;
  for (let step = 1; step <= 1000; step++) {
    const loss = await trainStep(model, opt, x, y, 1.0);
    // Reading the loss now and then also keeps the CPU from running far ahead of the GPU.
    if (step % 100 === 0 || step === 1) {
      const v = await lossAt(loss);
      if (step === 1) first = v;
      last = v;
    } else loss.dispose();
    if (step === 20) warm = ag.counters();
  }
  const end = ag.counters();
  console.log(
    `1000 steps: loss ${first.toFixed(5)} → ${last.toFixed(6)}; step 20 ${
      JSON.stringify({ ...warm, submits: undefined, dispatches: undefined })
    }; step 1000 ${JSON.stringify({ ...end, submits: undefined, dispatches: undefined })}`,
  );
  assert.ok(Number.isFinite(last) && last < first, `loss ${first} → ${last}`);
  assert.equal(end.buffersAllocated, warm!.buffersAllocated, "buffersAllocated grew");
  assert.equal(end.bytesAllocated, warm!.bytesAllocated, "bytesAllocated grew");
  assert.equal(end.buffersInUse, warm!.buffersInUse, "buffersInUse grew");
  assert.equal(end.bytesInUse, warm!.bytesInUse, "bytesInUse grew");
  model.dispose();
  opt.dispose();
  x.dispose();
  y.dispose();
});
