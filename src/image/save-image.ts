import type { HostTensor } from '../core/host-tensor.ts'
import { formatInfotext, type GenerationInfo } from './infotext.ts'
import { encodePng, writePng, type RgbImage } from './png.ts'
import { imageToUint8 } from './to-uint8.ts'

export interface ImagePngOptions {
  /** Which image of a [B, 3, H, W] batch (default 0). */
  readonly index?: number
  /** Written as the `parameters` text chunk, as A1111 does. */
  readonly info?: GenerationInfo
  /** The final 8-bit picture when a mode composited one (inpainting); it is written instead of `image`. */
  readonly pixels?: RgbImage
}

/** A decoded image in [-1, 1] ([3, H, W] or [B, 3, H, W]) → PNG bytes, with A1111's uint8 conversion and infotext. */
export function imagePngBytes(image: HostTensor, opts: ImagePngOptions = {}): Uint8Array {
  return encodePng(imageToUint8(image, opts.index ?? 0), opts.info ? { text: { parameters: formatInfotext(opts.info) } } : {})
}

/** The same, written to `file` through a temp file + rename. */
export async function saveImagePng(file: string, image: HostTensor, opts: ImagePngOptions = {}): Promise<void> {
  await writePng(file, opts.pixels ?? imageToUint8(image, opts.index ?? 0), opts.info ? { text: { parameters: formatInfotext(opts.info) } } : {})
}
