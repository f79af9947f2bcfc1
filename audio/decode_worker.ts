/**
 * Worker body for {@link DecodePool}: decodes one clip file and resamples it, off the main
 * thread. Messages in: `{ id, path, sampleRate }`; out: `{ id, samples, sourceSampleRate,
 * warnings }` or `{ id, error, decodeError }` (decodeError: the clip is broken, as opposed to
 * the run; error then says the detected format and what is wrong, e.g. "FLAC: truncated …").
 * @module
 */
/// <reference lib="deno.worker" />
import { decodeAudioFile } from "./decode.ts";
import { AudioDecodeError } from "./errors.ts";
import { resample } from "./resample.ts";

self.onmessage = async (ev: MessageEvent<{ id: number; path: string; sampleRate: number }>) => {
  const { id, path, sampleRate } = ev.data;
  try {
    const audio = await decodeAudioFile(path);
    const samples = resample(audio.samples, audio.sampleRate, sampleRate);
    self.postMessage(
      { id, samples, sourceSampleRate: audio.sampleRate, warnings: audio.warnings },
      [samples.buffer],
    );
  } catch (err) {
    const decodeError = err instanceof AudioDecodeError || err instanceof Deno.errors.NotFound;
    const reason = err instanceof AudioDecodeError
      ? err.summary
      : err instanceof Deno.errors.NotFound
      ? "missing file"
      : String(err);
    self.postMessage({ id, error: reason, decodeError });
  }
};
