/**
 * Cuts a long recording into training segments of at most `maxSeconds`: as few segments as that
 * allows, of about equal length, the cuts moved to quiet short frames near their even positions
 * (pauses between words, where there are any), so words are not split mid-way when it can be
 * helped. Segments are contiguous and cover the whole recording. Portable: typed arrays.
 * @module
 */

/** Settings of {@linkcode segmentBounds}. */
export interface SegmentOptions {
  /** Longest segment, seconds. */
  maxSeconds: number;
  /** How far a cut may move from its even position to find a quiet frame (default 2 s). */
  searchSeconds?: number;
  /** Length of the frames whose energy is compared (default 0.02 s). */
  frameSeconds?: number;
}

/** One segment: samples [start, end) of the recording. */
export interface SegmentBounds {
  start: number;
  end: number;
}

/**
 * Where to cut `samples` (at `sampleRate`) into segments of at most `maxSeconds`.
 *
 * With `n = ceil(length / maxLength)` segments, cut k may sit within `searchSeconds` (at most a
 * quarter of a segment) of its even position `k · length / n`, at the centre of a short frame
 * (or at the even position itself). Of all choices whose segments stay within the maximum, the
 * one whose cut frames have the least total energy (sum of squares) is taken — a pause between
 * words where there is one — and of equally quiet ones, the nearest the even positions. Found by
 * dynamic programming over the cuts, so an early cut never forces a later one mid-word.
 *
 * @example
 * ```ts
 * import { segmentBounds } from "./segment.ts";
 * const cuts = segmentBounds(new Float32Array(127 * 16000), 16000, { maxSeconds: 15 });
 * console.log(cuts.length); // 9
 * ```
 */
export function segmentBounds(
  samples: Float32Array,
  sampleRate: number,
  options: SegmentOptions,
): SegmentBounds[] {
  const length = samples.length;
  const maxLength = Math.floor(options.maxSeconds * sampleRate);
  if (!(maxLength >= 1)) {
    throw new RangeError(`segmentBounds: maxSeconds ${options.maxSeconds} is under one sample`);
  }
  if (length <= maxLength) return [{ start: 0, end: length }];
  const n = Math.ceil(length / maxLength);
  const frame = Math.max(1, Math.round((options.frameSeconds ?? 0.02) * sampleRate));
  const energy = frameEnergies(samples, frame);
  const reach = Math.min((options.searchSeconds ?? 2) * sampleRate, length / n / 4);
  // Candidates of each cut k = 1 … n−1, and the best chain of cuts 1 … k ending at each.
  let previous: Candidate[] = [{ at: 0, energy: 0, distance: 0, cost: 0, dist: 0, back: null }];
  for (let k = 1; k < n; k++) {
    const even = (k * length) / n;
    const current = candidates(energy, frame, even, reach, length);
    for (const c of current) {
      for (const p of previous) {
        const gap = c.at - p.at;
        if (gap <= 0 || gap > maxLength || p.cost === Infinity) continue;
        const cost = p.cost + c.energy, dist = p.dist + c.distance;
        if (cost < c.cost || (cost === c.cost && dist < c.dist)) {
          c.cost = cost;
          c.dist = dist;
          c.back = p;
        }
      }
    }
    previous = current;
  }
  let best: Candidate | null = null;
  for (const c of previous) {
    if (c.cost === Infinity || length - c.at > maxLength) continue;
    if (!best || c.cost < best.cost || (c.cost === best.cost && c.dist < best.dist)) best = c;
  }
  // The even positions always form a valid chain, so there is a best one.
  const cuts: number[] = [];
  for (let c: Candidate | null = best!; c && c.back; c = c.back) cuts.unshift(c.at);
  const edges = [0, ...cuts, length];
  return cuts.concat(length).map((end, k) => ({ start: edges[k], end }));
}

/** A possible cut: where, its frame's energy and distance from the even position; the chain. */
interface Candidate {
  at: number;
  energy: number;
  distance: number;
  /** Total energy and distance of the best chain of cuts ending here (Infinity: none). */
  cost: number;
  dist: number;
  back: Candidate | null;
}

/**
 * The cuts considered near `even`: the centres of the frames within `reach` of it, and the even
 * position itself (rounded), each with the energy of the frame it falls in.
 */
function candidates(
  energy: Float64Array,
  frame: number,
  even: number,
  reach: number,
  length: number,
): Candidate[] {
  const make = (at: number): Candidate => ({
    at,
    energy: energy[Math.min(energy.length - 1, Math.floor(at / frame))],
    distance: Math.abs(at - even),
    cost: Infinity,
    dist: Infinity,
    back: null,
  });
  const out = [make(Math.round(even))];
  const lo = Math.max(1, even - reach), hi = Math.min(length - 1, even + reach);
  for (let j = Math.max(0, Math.floor(lo / frame)); j * frame <= hi; j++) {
    const centre = Math.floor(j * frame + frame / 2);
    if (centre >= lo && centre <= hi && centre !== out[0].at) out.push(make(centre));
  }
  return out;
}

/** Sum of squares of each whole or partial frame of `frame` samples. */
function frameEnergies(samples: Float32Array, frame: number): Float64Array {
  const out = new Float64Array(Math.ceil(samples.length / frame));
  for (let i = 0; i < samples.length; i++) out[Math.floor(i / frame)] += samples[i] * samples[i];
  return out;
}
