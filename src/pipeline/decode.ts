/*
 * Latent → image, one image at a time as A1111's decode_latent_batch does (processing.py @ c8a5322d): the scaled
 * latent divided by the VAE scale factor, through the VAE decoder (tiled above a size, models/vae tiled.ts).
 */
import type { HostTensor } from '../core/host-tensor.ts'
import type { VaeTilingMode } from '../models/vae/index.ts'
import type { LoadedModel } from './load-model.ts'

export interface DecodedImage {
  /** [1, 3, H, W] in about [-1, 1], before clamping. */
  readonly image: HostTensor
  /** The image's own latent [1, 4, h, w] (scaled, as the sampler returns it). */
  readonly latent: Float32Array
}

/** Image i of a batch of latents shaped [B, ...shape]. */
export async function decodeOne(model: LoadedModel, latents: Float32Array, i: number, shape: readonly number[], tiling?: VaeTilingMode): Promise<DecodedImage> {
  const per = shape[0] * shape[1] * shape[2]
  const latent = latents.slice(i * per, (i + 1) * per)
  const z = latent.map((v) => Math.fround(v / model.vaeScale))
  const vae = await model.vaeDecoder()
  return { image: await vae.decode({ shape: [1, ...shape], data: z }, { tiling }), latent }
}
