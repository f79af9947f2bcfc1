import assert from "node:assert/strict";
import { hzToMel, melFilterbank, melToHz } from "../../audio/mel.ts";

Deno.test("Slaney mel scale: linear below 1 kHz, logarithmic above (librosa values)", () => {
  assert.equal(hzToMel(0), 0);
  assert.ok(Math.abs(hzToMel(1000) - 15) < 1e-12);
  // librosa.hz_to_mel(8000) = 15 + 27 ln(8) / ln(6.4)
  assert.ok(Math.abs(hzToMel(8000) - (15 + (27 * Math.log(8)) / Math.log(6.4))) < 1e-12);
  assert.ok(Math.abs(hzToMel(8000) - 45.245640471924965) < 1e-9);
  for (const hz of [0, 123.4, 999, 1000, 4321, 8000]) {
    assert.ok(Math.abs(melToHz(hzToMel(hz)) - hz) < 1e-9, `round trip at ${hz} Hz`);
    assert.ok(Math.abs(melToHz(hzToMel(hz, true), true) - hz) < 1e-9, `HTK round trip at ${hz} Hz`);
  }
  assert.ok(Math.abs(hzToMel(1000, true) - 999.9855371396243) < 1e-9);
});

Deno.test("mel filterbank: triangles between adjacent mel points, Slaney area norm", () => {
  const sampleRate = 16000, nFft = 1024, nMels = 80;
  const fb = melFilterbank({ sampleRate, nFft, nMels });
  const nBins = nFft / 2 + 1;
  assert.equal(fb.length, nMels * nBins);
  const melMax = hzToMel(8000);
  const edges = Array.from({ length: nMels + 2 }, (_, i) => melToHz((melMax * i) / (nMels + 1)));
  for (let m = 0; m < nMels; m++) {
    const row = fb.subarray(m * nBins, (m + 1) * nBins);
    const height = 2 / (edges[m + 2] - edges[m]);
    for (let k = 0; k < nBins; k++) {
      const f = (k * sampleRate) / nFft;
      // Plain float64 reference of one weight, written from the definition.
      let tri = 0;
      if (f > edges[m] && f <= edges[m + 1]) tri = (f - edges[m]) / (edges[m + 1] - edges[m]);
      else if (f > edges[m + 1] && f < edges[m + 2]) {
        tri = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
      }
      assert.ok(
        Math.abs(row[k] - tri * height) < 1e-12,
        `band ${m} bin ${k}: ${row[k]} vs ${tri * height}`,
      );
    }
    // Every band catches some energy at this resolution; weights never exceed the peak.
    assert.ok(Math.max(...row) > 0, `band ${m} is empty`);
    assert.ok(Math.max(...row) <= height + 1e-12);
  }
  // Area normalisation: each triangle integrates to about 1 over frequency (bins 15.6 Hz apart).
  const df = sampleRate / nFft;
  for (const m of [40, 60, 79]) {
    const area = fb.subarray(m * nBins, (m + 1) * nBins).reduce((a, b) => a + b, 0) * df;
    assert.ok(Math.abs(area - 1) < 0.05, `band ${m} area ${area}`);
  }
});

Deno.test("mel filterbank refuses a band edge above Nyquist", () => {
  assert.throws(
    () => melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, fMax: 9000 }),
    /fMax/,
  );
});
