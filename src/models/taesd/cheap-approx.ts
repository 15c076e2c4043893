/*
 * A1111's "Approx cheap" preview (modules/sd_vae_approx.py cheap_approximation, v1.10): each latent pixel's 4
 * channels times a fixed 4×3 matrix give an RGB pixel in about [-1, 1], at latent resolution (h × w, not 8h × 8w).
 * Zero cost, no file: the preview when no TAESD decoder is present.
 *   x_sample = torch.einsum("...lxy,lr -> ...rxy", sample, coefs)
 * Coefficients: https://discuss.huggingface.co/t/decoding-latents-to-rgb-without-upscaling/23204/2 (as A1111 has them).
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'

type Rows4x3 = readonly [readonly number[], readonly number[], readonly number[], readonly number[]]

/** coeffs[latent channel][r, g, b] */
export const CHEAP_APPROX_COEFFS: Readonly<Record<'sd' | 'sdxl', Rows4x3>> = {
  sd: [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]],
  sdxl: [[0.3448, 0.4168, 0.4395], [-0.1953, -0.0290, 0.0250], [0.1074, 0.0886, -0.0163], [-0.3730, -0.2499, -0.2088]],
}

/** latent [B, 4, h, w] (UNet space) → image [B, 3, h, w] in about [-1, 1] (float32 sums, as the einsum). */
export function cheapApproximation(latent: HostTensor, family: 'sd' | 'sdxl'): HostTensor {
  const [b, c, h, w] = latent.shape
  if (latent.shape.length !== 4 || c !== 4) {
    throw new InputError(`cheap latent preview: expected a latent [B, 4, h, w], got [${latent.shape.join(', ')}]`)
  }
  const coeffs = CHEAP_APPROX_COEFFS[family]
  const plane = h * w
  const out = new Float32Array(b * 3 * plane)
  for (let n = 0; n < b; n++) {
    for (let r = 0; r < 3; r++) {
      const o = (n * 3 + r) * plane
      for (let l = 0; l < 4; l++) {
        const k = Math.fround(coeffs[l][r])
        const i = (n * 4 + l) * plane
        for (let p = 0; p < plane; p++) out[o + p] += latent.data[i + p] * k
      }
    }
  }
  return { shape: [b, 3, h, w], data: out }
}
