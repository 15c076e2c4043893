/*
 * Picture → latent as A1111's img2img does it (processing.py @ c8a5322d, images_tensor_to_samples): uint8 / 255
 * (float32), × 2 − 1, the VAE encoder, the posterior MEAN (A1111 samples it with an unseeded RNG; for real VAEs the
 * std is ~1e-7 of the mean, so the mean is the reproducible choice), × the VAE scale factor. Pictures above 768²
 * are encoded in tiles under the 'auto' VAE tiling (models/vae tiled.ts), where A1111 runs the whole encoder.
 */
import type { HostTensor } from '../core/host-tensor.ts'
import type { Raster } from '../image/raster.ts'
import type { VaeTilingMode } from '../models/vae/index.ts'
import type { LoadedModel } from './load-model.ts'

const f32 = Math.fround

/** An 8-bit RGB raster as [1, 3, H, W] in [-1, 1] (float32 arithmetic as numpy/torch). */
export function rasterToTensor(img: Raster): HostTensor {
  if (img.channels !== 3) throw new RangeError(`rasterToTensor: expected RGB, got ${img.channels} channels`)
  const plane = img.width * img.height
  const data = new Float32Array(3 * plane)
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) data[c * plane + p] = f32(f32(f32(img.data[p * 3 + c] / 255) * 2) - 1)
  }
  return { shape: [1, 3, img.height, img.width], data }
}

/** The scaled latent [1, 4, H/8, W/8] of a picture tensor [1, 3, H, W] in [-1, 1]. */
export async function encodeTensor(model: LoadedModel, image: HostTensor, tiling?: VaeTilingMode): Promise<Float32Array> {
  const encoder = await model.vaeEncoder()
  const { mean } = await encoder.encode(image, { tiling })
  return mean.data.map((v) => f32(v * model.vaeScale))
}

export const encodePicture = (model: LoadedModel, img: Raster, tiling?: VaeTilingMode): Promise<Float32Array> =>
  encodeTensor(model, rasterToTensor(img), tiling)

/** The same per-image array `count` times (A1111 repeats the one init picture over the batch). */
export function repeatBatch(one: Float32Array, count: number): Float32Array {
  const out = new Float32Array(one.length * count)
  for (let i = 0; i < count; i++) out.set(one, i * one.length)
  return out
}
