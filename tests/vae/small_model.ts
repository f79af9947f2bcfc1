/**
 * The smallest useful VAE config for tests that save, load and train a model without caring what
 * it learns: 8 mel bands, 6 channels, a 2-dim latent, one downsampling stage.
 * @module
 */
import { DEFAULT_FEATURES } from "../../audio/features.ts";
import { DEFAULT_MODEL, type ModelConfig } from "../../vae/config.ts";

export const SMALL_MODEL: ModelConfig = {
  ...DEFAULT_MODEL,
  features: { ...DEFAULT_FEATURES, nMels: 8 },
  channels: 6,
  latentDim: 2,
  downsampleStages: 1,
  edgeKernel: 3,
};
