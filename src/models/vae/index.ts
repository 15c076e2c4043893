/** The SD autoencoder (AutoencoderKL): decoder, encoder, and key renaming for separate VAE files. */
export { measureVaeDecoder, measureVaeEncoder, type VaeAttnLayout, type VaeHalfConfig } from './config.ts'
export { buildVaeDecoderGraph } from './decoder.ts'
export { buildVaeEncoderGraph } from './encoder.ts'
export { vaeKeyMap, type VaeKeyMap } from './keys.ts'
export { VAE_PREFIX, VaeDecoderSession, VaeEncoderSession, type Posterior, type VaeDecodeOptions, type VaeEncodeOptions, type VaeSessionOptions, type VaeTilingMode, type VaeWeights, vaeTilingFor } from './vae.ts'
export { AUTO_TILE_ABOVE, axisTiles, decodeTiled, DEFAULT_VAE_TILING, encodeTiled, SMALL_VAE_TILING, type VaeTiling } from './tiled.ts'
