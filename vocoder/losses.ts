/**
 * The vocoder's losses, each a small function of waveforms [B, L] (generated and real):
 *
 * - {@link melL1}: mean |log M̂ − log M| of mel power through the project's {@link LogMel}
 *   (HiFi-GAN's and Vocos's main term), and
 * - {@link multiResolutionStftLoss}: spectral convergence ‖|X| − |X̂|‖_F / ‖|X|‖_F plus the mean
 *   |log P − log P̂| of the power spectrogram at several STFT resolutions (Parallel WaveGAN),
 *
 * both with the floor of the measure the project reports (audio/waveform_distance.ts): power
 * below 1e-8 × the real segment's peak counts as that floor, so the losses care about what is
 * heard down to −80 dB and no further, whatever the segment's loudness. And the least-squares
 * GAN terms (HiFi-GAN): {@link discriminatorLoss}, {@link generatorAdversarialLoss},
 * {@link featureMatchingLoss}. Portable: engine only.
 * @module
 */
import * as ag from "../engine/mod.ts";
import type { LogMel } from "../audio/features.ts";
import { RELATIVE_FLOOR } from "../audio/waveform_distance.ts";

/**
 * Floor of power for a digitally silent segment (peak 0), where the relative floor would be 0:
 * 1e-10 of power is −100 dB below a full-scale bin of a 1024-point Hann STFT, and far under the
 * relative floor of any audible segment.
 */
const SILENCE_FLOOR = 1e-10;

/** log(max(power, RELATIVE_FLOOR × the peak of the reference + SILENCE_FLOOR)), [B, ...]. */
function flooredLog(power: ag.Tensor, peak: ag.Tensor): ag.Tensor {
  return power.maximum(peak.mul(RELATIVE_FLOOR).add(SILENCE_FLOOR)).log();
}

/** Per-item peak [B, 1, ..., 1] of a [B, ...] tensor (no graph). */
function peakOf(power: ag.Tensor): ag.Tensor {
  const axes = [...Array(power.ndim).keys()].slice(1);
  return ag.noGrad(() => power.max(axes, true));
}

/** Mean |log M̂ − log M| of mel power (natural log), with the relative floor. */
export function melL1(logMel: LogMel, fake: ag.Tensor, real: ag.Tensor): ag.Tensor {
  const realMel = ag.noGrad(() => logMel.melPower(real));
  const peak = peakOf(realMel);
  const target = ag.noGrad(() => flooredLog(realMel, peak));
  return flooredLog(logMel.melPower(fake), peak).sub(target).abs().mean();
}

/** The two terms of {@link multiResolutionStftLoss}, each averaged over the resolutions. */
export interface StftLossTerms {
  spectralConvergence: ag.Tensor;
  logMagnitude: ag.Tensor;
}

/**
 * Multi-resolution STFT loss: for each [nFft, hop] (periodic Hann, centred), spectral convergence
 * of the magnitudes over the batch, and mean |log P − log P̂| of the power (the log of |X|², so
 * twice the log-magnitude L1), or with `norm` "l2" its mean square (whose optimum is the mean of
 * the log spectrum, where the L1's is the median: the log-spectral distance is an RMS, so it
 * prefers the mean), both averaged over the resolutions.
 */
export function multiResolutionStftLoss(
  fake: ag.Tensor,
  real: ag.Tensor,
  resolutions: readonly (readonly [number, number])[],
  norm: "l1" | "l2" = "l1",
): StftLossTerms {
  let sc: ag.Tensor | null = null, mag: ag.Tensor | null = null;
  for (const [nFft, hop] of resolutions) {
    const opts = { nFft, hop, window: "hann" as const, center: true };
    const realPower = ag.noGrad(() => ag.stftPower(real, opts));
    const fakePower = ag.stftPower(fake, opts);
    const peak = peakOf(realPower);
    const realMag = ag.noGrad(() => realPower.sqrt());
    // The tiny offset keeps the square root's gradient finite where the output is exactly 0.
    const fakeMag = fakePower.add(1e-12).sqrt();
    const scHere = fakeMag.sub(realMag).square().sum().sqrt().div(
      ag.noGrad(() => realPower.sum().add(1e-12).sqrt()),
    );
    const target = ag.noGrad(() => flooredLog(realPower, peak));
    const diff = flooredLog(fakePower, peak).sub(target);
    const magHere = (norm === "l1" ? diff.abs() : diff.square()).mean();
    sc = sc ? sc.add(scHere) : scHere;
    mag = mag ? mag.add(magHere) : magHere;
  }
  const n = resolutions.length;
  return { spectralConvergence: sc!.div(n), logMagnitude: mag!.div(n) };
}

/** Least-squares discriminator loss: Σ_d mean((1 − D_d(real))²) + mean(D_d(fake)²). */
export function discriminatorLoss(realScores: ag.Tensor[], fakeScores: ag.Tensor[]): ag.Tensor {
  let loss: ag.Tensor | null = null;
  for (const [i, r] of realScores.entries()) {
    const term = r.neg().add(1).square().mean().add(fakeScores[i].square().mean());
    loss = loss ? loss.add(term) : term;
  }
  return loss!;
}

/** Least-squares generator loss: Σ_d mean((1 − D_d(fake))²). */
export function generatorAdversarialLoss(fakeScores: ag.Tensor[]): ag.Tensor {
  let loss: ag.Tensor | null = null;
  for (const f of fakeScores) {
    const term = f.neg().add(1).square().mean();
    loss = loss ? loss.add(term) : term;
  }
  return loss!;
}

/**
 * Feature matching: Σ over discriminators and layers of mean |f_real − f_fake| (real features
 * carry no gradient), divided by the number of layers of each discriminator.
 */
export function featureMatchingLoss(
  realFeatures: ag.Tensor[][],
  fakeFeatures: ag.Tensor[][],
): ag.Tensor {
  let loss: ag.Tensor | null = null;
  for (const [d, layers] of realFeatures.entries()) {
    for (const [l, r] of layers.entries()) {
      const term = fakeFeatures[d][l].sub(r).abs().mean().div(layers.length);
      loss = loss ? loss.add(term) : term;
    }
  }
  return loss!;
}
