/*
 * A1111's `images.resize_image(resize_mode, im, width, height)` without an upscaler (`upscaler_for_img2img` None,
 * A1111's default): every resize is one PIL LANCZOS resize, also when enlarging.
 * modules/images.py @ c8a5322d (v1.8.0).
 */
import { newRaster, pasteAt, toRgb, type Raster } from './raster.ts'
import { resample } from './pil-resample.ts'

/** 0 "Just resize", 1 "Crop and resize", 2 "Resize and fill" (A1111's resize_mode numbers). */
export const RESIZE_MODES = ['just', 'crop', 'fill'] as const
export type ResizeMode = (typeof RESIZE_MODES)[number]

const lanczos = (im: Raster, w: number, h: number): Raster => resample(im, w, h, 'lanczos')

/**
 * Resizes `im` to width x height. 'just' keeps the channel count; 'crop' and 'fill' paste into a black RGB canvas
 * (`Image.new("RGB")`), so an 'L' mask comes back as RGB as in A1111.
 */
export function resizeImage(mode: ResizeMode, im: Raster, width: number, height: number): Raster {
  if (mode === 'just') return lanczos(im, width, height)
  const ratio = width / height
  const srcRatio = im.width / im.height
  // Python's `//` on non-negative ints is floor division.
  const fitW = Math.floor((im.width * height) / im.height)
  const fitH = Math.floor((im.height * width) / im.width)
  const cover = mode === 'crop'
  const srcW = (cover ? ratio > srcRatio : ratio < srcRatio) ? width : fitW
  const srcH = (cover ? ratio <= srcRatio : ratio >= srcRatio) ? height : fitH
  const resized = toRgb(lanczos(im, srcW, srcH))
  const res = newRaster(width, height, 3)
  pasteAt(res, resized, Math.floor(width / 2) - Math.floor(srcW / 2), Math.floor(height / 2) - Math.floor(srcH / 2))
  if (!cover) fillBands(res, resized, { ratio, srcRatio, srcW, srcH })
  return res
}

/**
 * "Resize and fill": the empty bands get the resized picture's edge rows/columns stretched by a zero-height
 * (zero-width) box resize with PIL's default filter, BICUBIC, exactly as images.py writes it.
 */
function fillBands(res: Raster, resized: Raster, s: { ratio: number; srcRatio: number; srcW: number; srcH: number }): void {
  const { width, height } = res
  if (s.ratio < s.srcRatio) {
    const fillH = Math.floor(height / 2) - Math.floor(s.srcH / 2)
    if (fillH <= 0) return
    const h = resized.height
    pasteAt(res, resample(resized, width, fillH, 'bicubic', { x0: 0, y0: 0, x1: width, y1: 0 }), 0, 0)
    pasteAt(res, resample(resized, width, fillH, 'bicubic', { x0: 0, y0: h, x1: width, y1: h }), 0, fillH + s.srcH)
  } else if (s.ratio > s.srcRatio) {
    const fillW = Math.floor(width / 2) - Math.floor(s.srcW / 2)
    if (fillW <= 0) return
    const w = resized.width
    pasteAt(res, resample(resized, fillW, height, 'bicubic', { x0: 0, y0: 0, x1: 0, y1: height }), 0, 0)
    pasteAt(res, resample(resized, fillW, height, 'bicubic', { x0: w, y0: 0, x1: w, y1: height }), fillW + s.srcW, 0)
  }
}
