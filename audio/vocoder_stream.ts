/**
 * Audio of a stream of log-mel frames of any length through a {@link MelVocoder}, in
 * overlapping chunks: each core of `coreFrames` frames is synthesized with `overlapFrames` of
 * its neighbours' frames on both sides; consecutive chunks are cross-faded linearly over the
 * `overlapFrames` (in samples, overlap · hop) centred on their seam, half an overlap away from
 * either chunk's edge, where a chunk alone is least sure of its signal. Each chunk after the
 * first is given the audio already made for its first frames (`leadingAudio`): Griffin-Lim
 * starts there from that audio's phase, so the two sides of a seam agree before the fade.
 * Memory holds a chunk or two, however long the stream. Portable: engine only.
 *
 * Samples come out in order, (frames − 1) · hop in all, frame f centred on sample f · hop, as
 * the vocoder gives them for the whole signal at once.
 * @module
 */
import * as ag from "../engine/mod.ts";
import { FrameQueue } from "./frame_queue.ts";
import type { MelVocoder } from "./vocoder.ts";

/** How {@link streamVocoder} cuts the stream. */
export interface VocoderStreamOptions {
  /** Frames of a chunk's core (default 2048, about 33 s at hop 256). */
  coreFrames?: number;
  /** Frames of overlap on each side of a core, and the cross-fade's length (default 32). */
  overlapFrames?: number;
}

/**
 * The audio of the log-mel frames (time-major pieces [frames, nMels] of any size) yielded as
 * they become final.
 */
export async function* streamVocoder(
  vocoder: MelVocoder,
  logMelFrames: AsyncIterable<Float32Array> | Iterable<Float32Array>,
  opts: VocoderStreamOptions = {},
): AsyncGenerator<Float32Array> {
  const { nMels, hop } = vocoder.features;
  const overlap = Math.max(2, 2 * Math.ceil((opts.overlapFrames ?? 32) / 2));
  const core = Math.max(overlap, Math.floor(opts.coreFrames ?? 2048));
  const fade = (overlap / 2) * hop; // half the cross-fade, in samples
  const queue = new FrameQueue(nMels, core + 2 * overlap);
  /** The previous chunk's samples [seam − fade, seam + fade), to fade out. */
  let tail: Float32Array | null = null;
  /** The previous chunk's samples for the next chunk's first 2·overlap frames. */
  let lead: Float32Array | null = null;
  let chunkIndex = 0;

  /** Synthesizes core [start, end) (frames [from, to) with overlap); returns what is final. */
  const chunk = async (start: number, end: number, last: boolean): Promise<Float32Array[]> => {
    const from = Math.max(0, start - overlap);
    const to = last ? end : end + overlap;
    const mel = queue.read(from, to);
    const audio = await ag.tidy(() => {
      const leadingAudio = lead ? ag.tensor(lead, [1, lead.length]) : undefined;
      const y = vocoder.synthesize(ag.tensor(mel, [1, to - from, nMels]), {
        leadingAudio,
        chunkIndex,
      });
      return y.toArray();
    });
    const at = (sample: number) => sample - from * hop; // global sample → index in `audio`
    const out: Float32Array[] = [];
    let own = 0; // first global sample this chunk writes alone
    if (tail) {
      const seam = start * hop;
      const mixed = new Float32Array(2 * fade);
      for (let i = 0; i < mixed.length; i++) {
        const w = (i + 0.5) / mixed.length;
        mixed[i] = (1 - w) * tail[i] + w * audio[at(seam - fade + i)];
      }
      out.push(mixed);
      own = seam + fade;
    }
    const ownEnd = last ? (to - 1) * hop : end * hop - fade;
    out.push(audio.slice(at(own), at(ownEnd)));
    if (!last) {
      tail = audio.slice(at(end * hop - fade), at(end * hop + fade));
      lead = audio.slice(at((end - overlap) * hop), at((end + overlap - 1) * hop));
    }
    queue.drop(end - overlap);
    chunkIndex++;
    return out;
  };

  let start = 0;
  for await (const piece of logMelFrames) {
    queue.push(piece);
    // A core is final once the overlap after it has arrived, and the next core will be at least
    // an overlap long (so that its fade fits).
    while (queue.end >= start + core + overlap) {
      yield* await chunk(start, start + core, false);
      start += core;
    }
  }
  const frames = queue.end;
  if (frames === 0) return;
  while (start < frames) {
    // The rest in cores; a last core shorter than an overlap joins the one before it.
    const end = frames - (start + core) < overlap ? frames : start + core;
    yield* await chunk(start, end, end === frames);
    start = end;
  }
}
