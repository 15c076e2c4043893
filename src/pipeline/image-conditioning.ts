/*
 * c_concat for inpainting UNets (9 input channels), as A1111 1.8 builds it (processing.py @ c8a5322d,
 * inpainting_image_conditioning / txt2img_image_conditioning, `inpainting_mask_weight` 1.0):
 *   m = round(mask / 255) at the processing size; masked = picture_in_[-1,1] · (1 − m) (lerp with weight 1);
 *   c_concat = cat([F.interpolate(m, (h, w)) ('nearest': the top-left pixel of each 8×8 block), encode(masked)])
 * txt2img with an inpainting model: the picture is 0.5 grey (0 in [-1, 1]) and the mask all ones.
 */
import type { Raster } from '../image/raster.ts'
import type { VaeTilingMode } from '../models/vae/index.ts'
import { encodeTensor, rasterToTensor, repeatBatch } from './encode-picture.ts'
import type { LoadedModel } from './load-model.ts'

/** Per-image c_concat [B, channels, h, w]. */
export interface ImageConditioning {
  readonly channels: number
  readonly data: Float32Array
}

/** [mask plane, latent channels…] for one image, repeated over the batch. */
function concat(maskPlane: Float32Array, latent: Float32Array, batch: number): ImageConditioning {
  const one = new Float32Array(maskPlane.length + latent.length)
  one.set(maskPlane)
  one.set(latent, maskPlane.length)
  return { channels: 1 + latent.length / maskPlane.length, data: repeatBatch(one, batch) }
}

/** Inpainting: `picture` is what gets encoded (filled for fill modes), `mask` the processed 'L' mask (255 = repaint). */
export async function inpaintConditioning(model: LoadedModel, picture: Raster, mask: Raster, batch: number, tiling?: VaeTilingMode): Promise<ImageConditioning> {
  const image = rasterToTensor(picture)
  const plane = picture.width * picture.height
  const m = Float32Array.from({ length: plane }, (_, p) => Math.round(mask.data[p * mask.channels] / 255))
  const masked = image.data.map((v, i) => Math.fround(v * (1 - m[i % plane])))
  const latent = await encodeTensor(model, { shape: image.shape, data: masked }, tiling)
  const h = picture.height / 8
  const w = picture.width / 8
  const small = Float32Array.from({ length: h * w }, (_, i) => m[Math.floor(i / w) * 8 * picture.width + (i % w) * 8])
  return concat(small, latent, batch)
}

/** txt2img with an inpainting model: a grey picture, fully masked. */
export async function txt2imgConditioning(model: LoadedModel, batch: number, latentShape: readonly number[], tiling?: VaeTilingMode): Promise<ImageConditioning> {
  const [, h, w] = latentShape
  const latent = await encodeTensor(model, { shape: [1, 3, h * 8, w * 8], data: new Float32Array(3 * h * w * 64) }, tiling)
  return concat(new Float32Array(h * w).fill(1), latent, batch)
}
