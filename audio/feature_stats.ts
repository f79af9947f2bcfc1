/**
 * Per-band normalisation statistics of half-precision (binary16) log-mel features, summed
 * exactly so that the result does not depend on the order the values come in: a cache prepared
 * in one run, or in parts merged afterwards, or resumed after a kill, gets the same mean and std
 * to the last bit.
 *
 * Every binary16 value is ±k·2^(e−25) with k < 2048 an integer (e the exponent field; 2^−24 for
 * subnormals). Values are binned per band by sign and exponent (64 bins), and each bin keeps the
 * count, Σk and Σk² as integers held exactly in f64 (below 2^53: about 2^31 values a bin and
 * band, thousands of hours). Sums of bins add exactly, so statistics of parts merge exactly; the
 * mean and std are then formed from the bins in one fixed order. Layout of the sums:
 * [nMels × 64] per quantity, band-major, bin = (sign << 5) | exponent. Portable (typed arrays).
 * @module
 */

/** Bins per band: sign (1 bit) × exponent field (5 bits). */
const BINS = 64;

/** The statistics' JSON form, as kept in a cache's index: only the bins that hold values. */
export interface BandStatsJson {
  nMels: number;
  /** Frames counted (each frame adds one value to every band). */
  frames: number;
  /** `[band, bin, count, Σk, Σk²]` of each non-empty bin, band-major. */
  bins: [number, number, number, number, number][];
}

/** Exact sums of binary16 features per mel band; see the module comment. */
export class BandStats {
  readonly count: Float64Array;
  readonly sumK: Float64Array;
  readonly sumK2: Float64Array;

  constructor(readonly nMels: number) {
    if (!(Number.isInteger(nMels) && nMels > 0)) throw new RangeError(`BandStats: nMels ${nMels}`);
    this.count = new Float64Array(nMels * BINS);
    this.sumK = new Float64Array(nMels * BINS);
    this.sumK2 = new Float64Array(nMels * BINS);
  }

  /** Frames counted so far. */
  get frames(): number {
    let n = 0;
    for (let b = 0; b < BINS; b++) n += this.count[b];
    return n;
  }

  /**
   * Adds frames of binary16 bit patterns, [frames, nMels] row-major. `where` names their source
   * in the error a non-finite value raises.
   */
  addHalf(bits: Uint16Array, where = "features"): void {
    const { nMels, count, sumK, sumK2 } = this;
    if (bits.length % nMels !== 0) {
      throw new RangeError(`${where}: ${bits.length} values are not whole frames of ${nMels}`);
    }
    let band = 0;
    for (let i = 0; i < bits.length; i++) {
      const h = bits[i];
      const exp = (h >>> 10) & 0x1f;
      if (exp === 0x1f) throw new RangeError(`${where}: value ${i} is not finite`);
      const k = exp === 0 ? h & 0x3ff : (h & 0x3ff) | 0x400;
      const at = band * BINS + (h >>> 10);
      count[at]++;
      sumK[at] += k;
      sumK2[at] += k * k;
      if (++band === nMels) band = 0;
    }
    this.#checkExact(where);
  }

  /** Adds another's sums (exact). */
  merge(other: BandStats): void {
    if (other.nMels !== this.nMels) {
      throw new RangeError(`BandStats: cannot merge ${other.nMels} bands into ${this.nMels}`);
    }
    for (let i = 0; i < this.count.length; i++) {
      this.count[i] += other.count[i];
      this.sumK[i] += other.sumK[i];
      this.sumK2[i] += other.sumK2[i];
    }
    this.#checkExact("merged statistics");
  }

  #checkExact(where: string): void {
    for (const sums of [this.count, this.sumK, this.sumK2]) {
      for (const v of sums) {
        if (v > Number.MAX_SAFE_INTEGER) {
          throw new RangeError(`${where}: too many values for exact statistics (a sum > 2^53)`);
        }
      }
    }
  }

  /**
   * Per-band mean and standard deviation over every frame (std at least 1e-3, as
   * vae/data.ts's `normalizationStats`), formed from the exact sums in one fixed order.
   */
  meanStd(): { mean: Float32Array; std: Float32Array } {
    const { nMels } = this;
    const frames = this.frames;
    if (frames === 0) throw new Error("BandStats: no frames");
    const mean = new Float32Array(nMels), std = new Float32Array(nMels);
    for (let m = 0; m < nMels; m++) {
      let sum = 0, sumSq = 0;
      for (let b = 0; b < BINS; b++) {
        const at = m * BINS + b;
        if (this.count[at] === 0) continue;
        const exp = b & 0x1f;
        const unit = 2 ** ((exp === 0 ? 1 : exp) - 25);
        sum += (b & 0x20 ? -1 : 1) * this.sumK[at] * unit;
        sumSq += this.sumK2[at] * unit * unit;
      }
      const mu = sum / frames;
      mean[m] = mu;
      std[m] = Math.sqrt(Math.max(sumSq / frames - mu * mu, 1e-6));
    }
    return { mean, std };
  }

  /** The JSON form (non-empty bins only). */
  toJSON(): BandStatsJson {
    const bins: BandStatsJson["bins"] = [];
    for (let i = 0; i < this.count.length; i++) {
      if (this.count[i] > 0) {
        bins.push([Math.floor(i / BINS), i % BINS, this.count[i], this.sumK[i], this.sumK2[i]]);
      }
    }
    return { nMels: this.nMels, frames: this.frames, bins };
  }

  /** Reads the JSON form back; `where` names its file in errors. */
  static fromJSON(json: BandStatsJson, where: string): BandStats {
    const bad = (why: string) => new Error(`${where}: statistics ${why}`);
    if (!json || !Array.isArray(json.bins)) throw bad("are missing");
    const stats = new BandStats(json.nMels);
    for (const entry of json.bins) {
      const [band, bin, n, k, k2] = entry;
      const ints = entry.length === 5 && entry.every((v) => Number.isSafeInteger(v) && v >= 0);
      if (!ints || band >= json.nMels || bin >= BINS) throw bad(`hold a bad bin ${entry}`);
      const at = band * BINS + bin;
      stats.count[at] = n;
      stats.sumK[at] = k;
      stats.sumK2[at] = k2;
    }
    if (stats.frames * json.nMels !== stats.count.reduce((a, b) => a + b, 0)) {
      throw bad("count different numbers of values in different bands");
    }
    return stats;
  }
}
