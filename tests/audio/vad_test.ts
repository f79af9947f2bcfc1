import assert from "node:assert/strict";
import { EnergyVad } from "../../audio/vad.ts";
import { concatSamples } from "../../audio/samples.ts";

const RATE = 16000;

function noise(n: number, amp: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * amp;
  });
}

/** A crude voiced sound: harmonics of 140 Hz with a syllable-rate envelope. */
function vowel(n: number, amp = 0.3): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / RATE;
    const env = 0.6 + 0.4 * Math.sin(2 * Math.PI * 4 * t);
    let v = 0;
    for (let h = 1; h <= 8; h++) v += Math.sin(2 * Math.PI * 140 * h * t) / h;
    return amp * env * v / 2;
  });
}

const join = (...parts: Float32Array[]) => concatSamples(parts);

Deno.test("vad: silence and steady noise are not voice; speech over noise is", () => {
  const vad = new EnergyVad(RATE);
  // 1 s digital silence, 3 s of steady noise (the floor catches up within its 2 s window),
  // 2 s of voice over the same noise, 1 s of noise
  const bg = (n: number, seed: number) => noise(n, 0.01, seed);
  const v = vowel(2 * RATE);
  const n3 = bg(v.length, 3);
  const speech = v.map((x, i) => x + n3[i]);
  let voiced = 0;
  voiced += vad.push(new Float32Array(RATE)).length;
  assert.equal(voiced, 0, "digital silence is not voice");
  const noisy = vad.push(bg(3 * RATE, 2)).length;
  // A noise that starts after silence counts as voice only until the steady-sound window
  // (0.3 s) has seen it steady, plus the 0.15 s hangover; the 2 s floor window alone would
  // remember the silence and count 2.15 s of it.
  assert.ok(noisy <= 0.5 * RATE, `steady noise: ${noisy / RATE} s voiced (floor must adapt)`);
  const late = vad.push(bg(RATE, 4)).length;
  assert.equal(late, 0, "noise after the floor adapted is not voice");
  const sp = vad.push(speech).length;
  assert.ok(sp > 1.8 * RATE, `speech: only ${sp / RATE} s voiced`);
  const after = vad.push(bg(RATE, 5)).length;
  assert.ok(after <= 0.2 * RATE, `hangover too long: ${after / RATE} s`);
  assert.equal(vad.seconds.heard, 8);
});

Deno.test("vad: a hum that starts after quiet stops counting within the steady window", () => {
  const vad = new EnergyVad(RATE);
  vad.push(noise(RATE, 0.0005, 7)); // a quiet room
  const hum = Float32Array.from(
    { length: 2 * RATE },
    (_, i) => 0.05 * Math.sin(2 * Math.PI * 100 * i / RATE),
  );
  const voiced = vad.push(hum).length;
  assert.ok(voiced > 0 && voiced <= 0.5 * RATE, `hum: ${voiced / RATE} s voiced`);
  // and speech after it, over the hum, is voice again
  const v = vowel(RATE);
  const sp = vad.push(v.map((x, i) => x + hum[i])).length;
  assert.ok(sp > 0.8 * RATE, `speech over the hum: only ${sp / RATE} s voiced`);
});

Deno.test("vad: chunking does not change the decision", () => {
  const x = join(new Float32Array(8000), vowel(RATE), noise(8000, 0.001));
  const a = new EnergyVad(RATE).push(x);
  const vad = new EnergyVad(RATE);
  const parts: Float32Array[] = [];
  for (let i = 0; i < x.length; i += 777) parts.push(vad.push(x.subarray(i, i + 777)));
  assert.deepEqual(join(...parts), a);
});

Deno.test("vad: a click shorter than minVoicedSeconds is dropped", () => {
  const vad = new EnergyVad(RATE, { hangoverSeconds: 0 });
  const out = vad.push(join(new Float32Array(RATE), vowel(320 * 2), new Float32Array(RATE)));
  assert.equal(out.length, 0);
});
