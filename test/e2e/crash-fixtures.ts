/** Inputs shared by crash-writes.test.ts and its child process. */
import type { RgbImage } from '../../src/image/png.ts'

/** One of two distinct 128×128 images (variant 0 or 1), large enough that a write takes a while. */
export function crashImage(variant: number): RgbImage {
  const data = new Uint8Array(128 * 128 * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * (variant ? 13 : 7) + (i >> 9)) & 0xff
  return { width: 128, height: 128, data }
}
