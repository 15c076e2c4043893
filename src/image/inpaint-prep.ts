/*
 * The picture side of A1111's inpainting, in A1111's order (StableDiffusionProcessingImg2Img.init @ c8a5322d):
 * mask → invert → blur → (whole picture: resize like the picture | only masked: crop box, crop, resize and fill)
 * → overlay → masked content fill. The result holds everything the latent side and the final composite need.
 */
import { InputError } from '../core/errors.ts'
import { crop, newRaster, rgbToL, type CropBox, type Raster } from './raster.ts'
import { resizeImage, type ResizeMode } from './resize-modes.ts'
import { blurMask } from './mask-blur.ts'
import { expandCropRegion, fillMasked, getCropRegion, makeOverlay } from './masking.ts'

/** A1111's "Masked content": 0 fill, 1 original, 2 latent noise, 3 latent nothing. */
export const INPAINT_FILLS = ['fill', 'original', 'latent-noise', 'latent-nothing'] as const
export type InpaintFill = (typeof INPAINT_FILLS)[number]

export interface InpaintPictureOptions {
  readonly width: number
  readonly height: number
  readonly resizeMode: ResizeMode
  readonly maskBlur: number
  readonly invertMask: boolean
  /** "Only masked" (A1111 inpaint_full_res) with this padding in pixels; absent = whole picture. */
  readonly onlyMasked?: { readonly padding: number }
  readonly fill: InpaintFill
}

export interface InpaintPicture {
  /** RGB at the processing size: what the VAE encodes (filled unless fill is 'original'). */
  readonly picture: Raster
  /** The processed mask at the processing size, 'L' (255 = repaint). */
  readonly mask: Raster
  /** Composited over the decoded result (RGBA, picture size: processing size or the original size). */
  readonly overlay: Raster
  /** "Only masked": where the result goes back into the original picture. */
  readonly cropBox?: CropBox
}

/** `init` is the flattened RGB picture, `mask` an 'L' mask (read-image.ts toRgbFlattened / toMaskL). */
export function prepareInpaintPicture(init: Raster, mask: Raster, o: InpaintPictureOptions): InpaintPicture {
  let m = mask
  if (o.invertMask) {
    m = newRaster(mask.width, mask.height, 1)
    for (let i = 0; i < m.data.length; i++) m.data[i] = 255 - mask.data[i]
  }
  m = blurMask(m, o.maskBlur)
  let processed: Raster
  let forOverlay: Raster
  let picture: Raster
  let cropBox: CropBox | undefined
  if (o.onlyMasked) {
    if (init.width !== m.width || init.height !== m.height) {
      throw new InputError(`the mask is ${m.width}x${m.height} but the picture is ${init.width}x${init.height}. Hint: "only masked" needs a mask of the picture's size.`)
    }
    cropBox = expandCropRegion(getCropRegion(m, o.onlyMasked.padding), o, init)
    processed = rgbToL(resizeImage('fill', crop(m, cropBox), o.width, o.height))
    forOverlay = m
    picture = resizeImage('fill', crop(init, cropBox), o.width, o.height)
  } else {
    processed = rgbToL(resizeImage(o.resizeMode, m, o.width, o.height))
    forOverlay = newRaster(o.width, o.height, 1)
    for (let i = 0; i < processed.data.length; i++) forOverlay.data[i] = Math.min(2 * processed.data[i], 255)
    picture = resizeImage(o.resizeMode, init, o.width, o.height)
  }
  const overlay = makeOverlay(o.onlyMasked ? init : picture, forOverlay)
  if (o.fill !== 'original') picture = fillMasked(picture, processed)
  return { picture, mask: processed, overlay, ...(cropBox ? { cropBox } : {}) }
}
