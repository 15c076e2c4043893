/*
 * A1111's "Approx cheap" live preview (modules/sd_vae_approx.py cheap_approximation @ c8a5322d): each pixel's RGB is
 * a fixed linear map of its 4 latent channels, `einsum("lxy,lr -> rxy", sample, coeffs)`, on the scaled latent as
 * the sampler holds it, then sd_samplers_common.single_sample_to_image: x · 0.5 + 0.5, clamped, × 255, truncated.
 * One RGB pixel per latent pixel (1/8 of the image's size); coefficients from
 * https://discuss.huggingface.co/t/decoding-latents-to-rgb-without-upscaling/23204/2 as A1111 ships them.
 * TAESD previews (a small decoder network) sit beside this one when they land.
 */
import type { RgbImage } from '../image/png.ts'

/** [latent channel][r, g, b]. */
type Coeffs = readonly (readonly [number, number, number])[]

const SD_COEFFS: Coeffs = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
]

const SDXL_COEFFS: Coeffs = [
  [0.3448, 0.4168, 0.4395],
  [-0.1953, -0.0290, 0.0250],
  [0.1074, 0.0886, -0.0163],
  [-0.3730, -0.2499, -0.2088],
]

export type PreviewFamily = 'sd1' | 'sd2' | 'sdxl'

/**
 * Image `index` of a batch of latents [B, 4, h, w] → an h × w RGB preview. Float32 steps as A1111's torch ops
 * (einsum accumulation order aside, which moves a byte at most).
 */
export function cheapPreview(latents: Float32Array, shape: readonly [number, number, number], index: number, family: PreviewFamily): RgbImage {
  const [c, h, w] = shape
  const plane = h * w
  const base = index * c * plane
  const coeffs = family === 'sdxl' ? SDXL_COEFFS : SD_COEFFS
  const data = new Uint8Array(plane * 3)
  for (let p = 0; p < plane; p++) {
    for (let rgb = 0; rgb < 3; rgb++) {
      let v = 0
      for (let l = 0; l < 4; l++) v = Math.fround(v + Math.fround(latents[base + l * plane + p] * Math.fround(coeffs[l][rgb])))
      const x = Math.fround(Math.fround(v * 0.5) + 0.5)
      data[p * 3 + rgb] = Math.trunc(Math.fround((x < 0 ? 0 : x > 1 ? 1 : x) * 255))
    }
  }
  return { width: w, height: h, data }
}
