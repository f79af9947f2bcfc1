/**
 * Tests for audio/vocoder_stream.ts: real speech's log-mel frames streamed through Griffin-Lim in
 * overlapping chunks come out as long as the whole-signal vocoder's output, as consistent with
 * the target magnitude overall as that output, and as consistent around the seams as away from
 * them (a misaligned chunk, a hard cut or a fade between unrelated phases would show there).
 */
import assert from "node:assert/strict";
import * as ag from "../../mod.ts";
import { loadAudio } from "../../audio/decode.ts";
import { LogMel } from "../../audio/features.ts";
import { concatSamples } from "../../audio/samples.ts";
import { GriffinLimVocoder, melToLinear } from "../../audio/vocoder.ts";
import { streamVocoder } from "../../audio/vocoder_stream.ts";
import { setup } from "../util.ts";
import { SAMPLE_DIR } from "./fixtures.ts";

await setup();

/** Three clips of the sample corpus joined: about 10 s of speech. */
async function speech(): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const n of ["90000001", "90000008", "90000015"]) {
    const path = `${SAMPLE_DIR}clips/common_voice_en_${n}.mp3`;
    parts.push((await loadAudio(path, { sampleRate: 16000 })).samples);
  }
  return concatSamples(parts);
}

/**
 * Squared error and squared reference of `audio`'s STFT magnitude against `target`
 * [frames, bins], per frame: a region's spectral convergence is √(Σ error / Σ reference).
 */
async function frameErrors(
  audio: Float32Array,
  target: Float32Array,
  nFft: number,
  hop: number,
): Promise<{ error: number; reference: number }[]> {
  const mag = await ag.tidy(() =>
    ag.stft(ag.tensor(audio, [1, audio.length]), { nFft, hop }).square().sum(-1).sqrt().toArray()
  );
  const bins = nFft / 2 + 1;
  assert.equal(mag.length, target.length, "frame counts differ");
  return Array.from({ length: target.length / bins }, (_, f) => {
    let error = 0, reference = 0;
    for (let k = f * bins; k < (f + 1) * bins; k++) {
      error += (target[k] - mag[k]) ** 2;
      reference += target[k] ** 2;
    }
    return { error, reference };
  });
}

/** Spectral convergence over the frames `keep` accepts. */
function convergence(errors: { error: number; reference: number }[], keep: (f: number) => boolean) {
  let e = 0, r = 0;
  errors.forEach((x, f) => {
    if (keep(f)) e += x.error, r += x.reference;
  });
  return Math.sqrt(e / r);
}

Deno.test("streamVocoder: overlapping Griffin-Lim chunks are as good at their seams as between", async () => {
  const logMel = new LogMel();
  const { nFft, hop, nMels } = logMel.config;
  const signal = await speech();
  const mel = await ag.tidy(() =>
    logMel.logMelFrames(ag.tensor(signal, [1, signal.length])).toArray()
  );
  const frames = mel.length / nMels;
  const target = await ag.tidy(() =>
    melToLinear(ag.tensor(mel, [1, frames, nMels]), logMel.config).toArray()
  );
  const vocoder = new GriffinLimVocoder(logMel.config, { iterations: 32, seed: 3 });
  const whole = await ag.tidy(() =>
    vocoder.synthesize(ag.tensor(mel, [1, frames, nMels])).toArray()
  );
  assert.equal(whole.length, (frames - 1) * hop);

  const core = 128, overlap = 16;
  /** Frame pieces of 50 (not aligned with the cores). */
  async function* pieces() {
    for (let f = 0; f < frames; f += 50) {
      yield mel.slice(f * nMels, Math.min(frames, f + 50) * nMels);
    }
  }
  const streamed = concatSamples(
    await Array.fromAsync(
      streamVocoder(vocoder, pieces(), { coreFrames: core, overlapFrames: overlap }),
    ),
  );
  assert.equal(streamed.length, whole.length, "the stream's length differs from the whole's");
  assert.ok(streamed.every(Number.isFinite));

  const whole64 = await frameErrors(whole, target, nFft, hop);
  const stream64 = await frameErrors(streamed, target, nFft, hop);
  const seams: number[] = [];
  for (let s = core; s < frames - overlap; s += core) seams.push(s);
  assert.ok(seams.length >= 3, `${seams.length} seams`);
  const nearSeam = (f: number) => seams.some((s) => Math.abs(f - s) <= overlap / 2 + 2);
  const all = () => true;
  const atSeams = convergence(stream64, nearSeam);
  const between = convergence(stream64, (f) => !nearSeam(f));
  const wholeAtSeams = convergence(whole64, nearSeam);
  console.log(
    `  spectral convergence: whole ${convergence(whole64, all).toFixed(3)} (at the seams' ` +
      `frames ${wholeAtSeams.toFixed(3)}), streamed ${convergence(stream64, all).toFixed(3)} ` +
      `(at its ${seams.length} seams ${atSeams.toFixed(3)}, between ${between.toFixed(3)})`,
  );
  assert.ok(atSeams <= 1.25 * between, `seams ${atSeams} vs between ${between}`);
  assert.ok(atSeams <= 1.25 * wholeAtSeams, `seams ${atSeams} vs the whole's ${wholeAtSeams}`);
  assert.ok(
    convergence(stream64, all) <= 1.1 * convergence(whole64, all),
    "streamed worse than whole",
  );
  logMel.dispose();
});
