/*
 * Inpainting's latent blend, as A1111's CFGDenoiser does it (modules/sd_samplers_cfg_denoiser.py @ c8a5322d,
 * `mask_before_denoising` off): after CFG at every model call, and once more on the sampler's result
 * (processing.py), denoised = init_latent · mask + nmask · denoised, so only the masked area changes.
 */
import type { Denoiser } from './denoiser.ts'
import { fr } from './torch-f32.ts'

export interface LatentMask {
  /** The encoded picture [B, C, h, w] the unmasked area keeps. */
  readonly initLatent: Float32Array
  /** A1111's nmask [h, w]: 1 = repaint, 0 = keep (broadcast over channels and images). */
  readonly nmask: Float32Array
}

/** init · (1 − nmask) + nmask · x, element by element in float32 as torch computes it. */
export function blendLatent(x: Float32Array, m: LatentMask): Float32Array {
  const plane = m.nmask.length
  return x.map((v, i) => {
    const n = m.nmask[i % plane]
    return fr(fr(m.initLatent[i] * fr(1 - n)) + fr(n * v))
  })
}

/** The denoiser with the blend applied to its output. */
export const maskedDenoiser = (denoiser: Denoiser, m: LatentMask): Denoiser =>
  async (x, sigma) => blendLatent(await denoiser(x, sigma), m)
