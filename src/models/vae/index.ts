/** The SD autoencoder (AutoencoderKL): decoder, encoder, and key renaming for separate VAE files. */
export { measureVaeDecoder, measureVaeEncoder, type VaeAttnLayout, type VaeHalfConfig } from './config.ts'
export { buildVaeDecoderGraph } from './decoder.ts'
export { buildVaeEncoderGraph } from './encoder.ts'
export { vaeKeyMap, type VaeKeyMap } from './keys.ts'
export { VAE_PREFIX, VaeDecoderSession, VaeEncoderSession, type Posterior, type VaeSessionOptions, type VaeWeights } from './vae.ts'
