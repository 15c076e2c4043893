/*
 * 8-bit pixel rasters as PIL holds them: row-major HWC, 1 ('L'), 3 ('RGB') or 4 ('RGBA') channels. Every raster
 * sdloom allocates from user input goes through `newRaster`, so a size bound holds everywhere (a small PNG or a
 * large --width must not expand to gigabytes).
 */
import { InputError } from '../core/errors.ts'
import type { RgbImage } from './png.ts'

export type Channels = 1 | 2 | 3 | 4

export interface Raster {
  readonly width: number
  readonly height: number
  readonly channels: Channels
  /** [height, width, channels] */
  readonly data: Uint8Array
}

/** 2^28 pixels (16384²): above any size SD runs at, below what would exhaust memory as float tensors. */
export const MAX_RASTER_PIXELS = 2 ** 28

/** A zeroed raster (PIL's `Image.new(mode, size)`: black, transparent). */
export function newRaster(width: number, height: number, channels: Channels): Raster {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width * height > MAX_RASTER_PIXELS) {
    throw new InputError(`image size ${width}x${height} is outside 1x1 .. ${MAX_RASTER_PIXELS} pixels. Hint: use a smaller size.`)
  }
  return { width, height, channels, data: new Uint8Array(width * height * channels) }
}

export const rasterFromRgb = (img: RgbImage): Raster => ({ width: img.width, height: img.height, channels: 3, data: img.data })

/** PIL `convert('RGB')` of an 'L' raster (grey copied to every channel); RGB rasters pass through. */
export function toRgb(img: Raster): Raster {
  if (img.channels === 3) return img
  if (img.channels !== 1) throw new RangeError(`toRgb: expected 1 or 3 channels, got ${img.channels}`)
  const out = newRaster(img.width, img.height, 3)
  for (let p = 0; p < img.data.length; p++) out.data.fill(img.data[p], p * 3, p * 3 + 3)
  return out
}

/** One channel of a raster as an 'L' raster (PIL `split()[c]`). */
export function channel(img: Raster, c: number): Raster {
  const out = newRaster(img.width, img.height, 1)
  for (let p = 0; p < out.data.length; p++) out.data[p] = img.data[p * img.channels + c]
  return out
}

/** PIL's RGB → L: ITU-R 601-2 luma in 16-bit fixed point (Convert.c `L24`). */
export function rgbToL(img: Raster): Raster {
  if (img.channels === 1) return img
  const out = newRaster(img.width, img.height, 1)
  const d = img.data
  for (let p = 0, i = 0; p < out.data.length; p++, i += img.channels) {
    out.data[p] = (d[i] * 19595 + d[i + 1] * 38470 + d[i + 2] * 7471 + 0x8000) >>> 16
  }
  return out
}

/** PIL `Image.crop((x1, y1, x2, y2))` inside the raster. */
export function crop(img: Raster, box: CropBox): Raster {
  const out = newRaster(box.x2 - box.x1, box.y2 - box.y1, img.channels)
  const row = out.width * img.channels
  for (let y = 0; y < out.height; y++) {
    const from = ((box.y1 + y) * img.width + box.x1) * img.channels
    out.data.set(img.data.subarray(from, from + row), y * row)
  }
  return out
}

/** A rectangle as PIL boxes are written: left, top, right, bottom (right/bottom exclusive). */
export interface CropBox { readonly x1: number; readonly y1: number; readonly x2: number; readonly y2: number }

/** PIL `paste(src, (x, y))` without a mask: the overlap is copied, whatever falls outside `dst` is cut. */
export function pasteAt(dst: Raster, src: Raster, x: number, y: number): void {
  if (src.channels !== dst.channels) throw new RangeError(`pasteAt: ${src.channels} vs ${dst.channels} channels`)
  const c = dst.channels
  const x0 = Math.max(x, 0)
  const x1 = Math.min(x + src.width, dst.width)
  if (x1 <= x0) return
  for (let sy = Math.max(-y, 0); sy < src.height && y + sy < dst.height; sy++) {
    const from = (sy * src.width + (x0 - x)) * c
    dst.data.set(src.data.subarray(from, from + (x1 - x0) * c), ((y + sy) * dst.width + x0) * c)
  }
}
