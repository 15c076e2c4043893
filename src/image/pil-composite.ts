/*
 * PIL's integer compositing, as A1111's overlay and `masking.fill` use it (Pillow 9.4 libImaging: AlphaComposite.c,
 * Paste.c `paste_mask_L`, Convert.c `rgbA2rgba` / `rgba2rgbA`). All rasters here are 4-channel.
 */
import { newRaster, type Raster } from './raster.ts'

/** (a + 128) / 255 rounded the way PIL's DIV255/MULDIV255 macros do it. */
export const div255 = (a: number): number => {
  const t = a + 128
  return ((t >>> 8) + t) >>> 8
}
const shiftForDiv255 = (a: number): number => ((a >>> 8) + a) >>> 8
const PRECISION_BITS = 7

/** `Image.alpha_composite(dst, src)`: src over dst, both RGBA (AlphaComposite.c). */
export function alphaComposite(dst: Raster, src: Raster): Raster {
  const out = newRaster(dst.width, dst.height, 4)
  const d = dst.data
  const s = src.data
  const o = out.data
  for (let i = 0; i < o.length; i += 4) {
    const sa = s[i + 3]
    if (sa === 0) { o.set(d.subarray(i, i + 4), i); continue }
    const blend = d[i + 3] * (255 - sa)
    const outa255 = sa * 255 + blend
    const coef1 = Math.floor((sa * 255 * 255 * (1 << PRECISION_BITS)) / outa255)
    const coef2 = 255 * (1 << PRECISION_BITS) - coef1
    for (let k = 0; k < 3; k++) {
      const tmp = s[i + k] * coef1 + d[i + k] * coef2
      o[i + k] = shiftForDiv255(tmp + (0x80 << PRECISION_BITS)) >>> PRECISION_BITS
    }
    o[i + 3] = shiftForDiv255(outa255 + 0x80)
  }
  return out
}

/** RGBA → premultiplied RGBa (`rgbA2rgba`). */
export function premultiply(img: Raster): Raster {
  const out = newRaster(img.width, img.height, 4)
  for (let i = 0; i < img.data.length; i += 4) {
    const a = img.data[i + 3]
    for (let k = 0; k < 3; k++) out.data[i + k] = div255(img.data[i + k] * a)
    out.data[i + 3] = a
  }
  return out
}

/** Premultiplied RGBa → RGBA (`rgba2rgbA`: truncating division, alpha 0 and 255 copied). */
export function unpremultiply(img: Raster): Raster {
  const out = newRaster(img.width, img.height, 4)
  for (let i = 0; i < img.data.length; i += 4) {
    const a = img.data[i + 3]
    for (let k = 0; k < 3; k++) {
      const v = img.data[i + k]
      out.data[i + k] = a === 255 || a === 0 ? v : Math.min(255, Math.floor((255 * v) / a))
    }
    out.data[i + 3] = a
  }
  return out
}

/** `dst.paste(src, mask=mask)` for 4-channel images and an 'L' mask: every byte blended by the mask (Paste.c). */
export function pasteMasked(dst: Raster, src: Raster, mask: Raster): Raster {
  const out = newRaster(dst.width, dst.height, 4)
  for (let p = 0; p < dst.width * dst.height; p++) {
    const m = mask.data[p]
    for (let k = 0; k < 4; k++) {
      const i = p * 4 + k
      out.data[i] = div255(dst.data[i] * (255 - m) + src.data[i] * m)
    }
  }
  return out
}

/** An RGB raster as opaque RGBA (`convert('RGBA')`). */
export function withAlpha(img: Raster, alpha = 255): Raster {
  if (img.channels === 4) return img
  const out = newRaster(img.width, img.height, 4)
  for (let p = 0; p < img.width * img.height; p++) {
    out.data.set(img.data.subarray(p * 3, p * 3 + 3), p * 4)
    out.data[p * 4 + 3] = alpha
  }
  return out
}
