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

/**
 * A decoder used instead of the VAE: the SCALED latent [1, 4, h, w] as the sampler returns it → [1, 3, H, W] in about
 * [-1, 1] (models/taesd TaesdDecoder.decode: TAESD takes the sampler's latent as it is).
 */
export type LatentDecoder = (latent: HostTensor) => Promise<HostTensor>

export interface DecodeOptions {
  readonly tiling?: VaeTilingMode
  readonly decoder?: LatentDecoder
}

/** Image i of a batch of latents shaped [B, ...shape]. */
export async function decodeOne(model: LoadedModel, latents: Float32Array, i: number, shape: readonly number[], opts: DecodeOptions = {}): Promise<DecodedImage> {
  const per = shape[0] * shape[1] * shape[2]
  const latent = latents.slice(i * per, (i + 1) * per)
  if (opts.decoder) return { image: await opts.decoder({ shape: [1, ...shape], data: latent.slice() }), latent }
  const z = latent.map((v) => Math.fround(v / model.vaeScale))
  const vae = await model.vaeDecoder()
  return { image: await vae.decode({ shape: [1, ...shape], data: z }, { tiling: opts.tiling }), latent }
}
