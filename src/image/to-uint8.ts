import type { HostTensor } from '../core/host-tensor.ts'
import type { RgbImage } from './png.ts'

/**
 * A decoded image [3, H, W] (or one image of [B, 3, H, W]) in [-1, 1] → 8-bit RGB, exactly as A1111 does it
 * (modules/processing.py, process_images_inner):
 *   x = torch.clamp((x + 1.0) / 2.0, min=0.0, max=1.0)        # float32 tensor ops
 *   x = (255. * np.moveaxis(x.numpy(), 0, 2)).astype(np.uint8)  # float32 product, then truncation
 * Every step is rounded to float32 (Math.fround) so the truncation boundary falls where torch/numpy put it.
 * (diffusers' numpy_to_pil rounds instead of truncating; A1111 and sdloom truncate.)
 */
export function imageToUint8(image: HostTensor, index = 0): RgbImage {
  const { shape } = image
  const chw = shape.length === 4 ? shape.slice(1) : shape
  if (chw.length !== 3 || chw[0] !== 3 || (shape.length === 4 && (index < 0 || index >= shape[0]))) {
    throw new RangeError(`imageToUint8: expected [3, H, W] or [B, 3, H, W] with 0 <= index < B, got [${shape.join(', ')}] index ${index}`)
  }
  const [, height, width] = chw
  const plane = height * width
  const base = index * 3 * plane
  const out = new Uint8Array(plane * 3)
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) out[p * 3 + c] = floatToByte(image.data[base + c * plane + p])
  }
  return { width, height, data: out }
}

/** One value: float32 (x + 1) / 2, clamped to [0, 1], times 255 in float32, truncated. NaN → 0 (as the uint8 cast of NaN on x86). */
export function floatToByte(x: number): number {
  const v = Math.fround(Math.fround(x + 1) / 2)
  const clamped = v < 0 ? 0 : v > 1 ? 1 : v
  const scaled = Math.fround(clamped * 255)
  return Number.isNaN(scaled) ? 0 : Math.trunc(scaled)
}
