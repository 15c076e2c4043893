/*
 * Input pictures (img2img init images, inpainting masks) of any common format: PNG (any bit depth, palette,
 * grey, alpha, interlaced), JPEG, WebP, through sharp/libvips (decisions.md: a well-kept decoder beats growing
 * png.ts into a general one). The header's size is checked before the pixels are decoded (`limitInputPixels`),
 * so a small file cannot expand to gigabytes; EXIF orientation is applied as A1111 does (ImageOps.exif_transpose).
 * 16-bit samples come back as 8-bit (libvips scales them).
 */
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import sharp from 'sharp'
import { InputError } from '../core/errors.ts'
import { channel, newRaster, rgbToL, type Channels, type Raster } from './raster.ts'
import { alphaComposite } from './pil-composite.ts'

/** 8192² pixels: twice the largest side SD runs at, ~270 MB as RGBA bytes. */
export const MAX_INPUT_PIXELS = 8192 * 8192

export interface DecodedImage extends Raster {
  /** A palette image (PIL mode 'P'): its transparency is dropped, not flattened, by A1111's convert('RGB'). */
  readonly palette: boolean
}

export interface ReadImageOptions { readonly maxPixels?: number }

export async function readImage(file: string, opts: ReadImageOptions = {}): Promise<DecodedImage> {
  let bytes: Buffer
  try { bytes = await readFile(file) } catch (e) {
    throw new InputError(`${file}: cannot read the image (${(e as Error).message}). Hint: check the path.`)
  }
  return decodeImage(bytes, basename(file), opts)
}

/** Decodes an encoded picture to 8-bit HWC pixels with 1-4 channels (grey, grey+alpha, RGB, RGBA). */
export async function decodeImage(bytes: Uint8Array, name: string, opts: ReadImageOptions = {}): Promise<DecodedImage> {
  const limit = opts.maxPixels ?? MAX_INPUT_PIXELS
  try {
    const img = sharp(bytes, { limitInputPixels: limit, failOn: 'error' }).autoOrient()
    const meta = await img.metadata()
    // libvips would hand grey pictures back as sRGB; keep them grey (+ alpha) as PIL's 'L' / 'LA'.
    if ((meta.channels ?? 3) <= 2) img.toColourspace('b-w')
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
    const out = newRaster(info.width, info.height, info.channels as Channels)
    out.data.set(data)
    return { ...out, palette: meta.isPalette === true }
  } catch (e) {
    if (e instanceof InputError) throw e
    const msg = (e as Error).message
    const hint = /pixel limit/.test(msg)
      ? `it has more than ${limit} pixels. Hint: downscale it first.`
      : `it is not a readable PNG, JPEG or WebP picture (${msg}).`
    throw new InputError(`${name}: ${hint}`)
  }
}

/**
 * The init picture as A1111 uses it: `images.flatten(img, "#ffffff")` (an RGBA picture is alpha-composited onto
 * white), then `convert('RGB')` (grey copied, a grey or palette picture's alpha dropped).
 */
export function toRgbFlattened(img: DecodedImage): Raster {
  const c = img.channels
  if (c === 3) return img
  const out = newRaster(img.width, img.height, c === 4 && !img.palette ? 4 : 3)
  for (let p = 0; p < img.width * img.height; p++) {
    for (let k = 0; k < 3; k++) out.data[p * out.channels + k] = img.data[p * c + (c <= 2 ? 0 : k)]
    if (out.channels === 4) out.data[p * 4 + 3] = img.data[p * 4 + 3]
  }
  if (out.channels === 3) return out
  const white = newRaster(img.width, img.height, 4)
  white.data.fill(255)
  return dropAlpha(alphaComposite(white, out))
}

/**
 * A1111 `create_binary_mask`: an RGBA mask whose alpha is not all 255 becomes alpha > 128 ? 255 : 0; any other
 * mask is PIL `convert('L')` (grey levels kept; RGB through the 601-2 luma).
 */
export function toMaskL(img: DecodedImage): Raster {
  if (img.channels === 4 && !img.palette && hasRealAlpha(img)) {
    const a = channel(img, 3)
    for (let i = 0; i < a.data.length; i++) a.data[i] = a.data[i] > 128 ? 255 : 0
    return a
  }
  if (img.channels <= 2) return channel(img, 0)
  return rgbToL(img)
}

const hasRealAlpha = (img: Raster): boolean => {
  for (let p = 3; p < img.data.length; p += 4) if (img.data[p] !== 255) return true
  return false
}

export function dropAlpha(img: Raster): Raster {
  if (img.channels !== 4) return img
  const out = newRaster(img.width, img.height, 3)
  for (let p = 0; p < img.width * img.height; p++) out.data.set(img.data.subarray(p * 4, p * 4 + 3), p * 3)
  return out
}
