/*
 * A1111's inpainting picture operations (modules/masking.py and the mask parts of processing.py @ c8a5322d):
 * the "only masked" crop box, "masked content: fill", the latent mask and the overlay composite.
 */
import { InputError } from '../core/errors.ts'
import { newRaster, pasteAt, type CropBox, type Raster } from './raster.ts'
import { resizeImage } from './resize-modes.ts'
import { alphaComposite, pasteMasked, premultiply, unpremultiply, withAlpha } from './pil-composite.ts'
import { pilGaussianBlur } from './pil-gaussian-blur.ts'
import { resample } from './pil-resample.ts'
import { dropAlpha } from './read-image.ts'

/** masking.get_crop_region: the bounding box of the mask's non-zero pixels, grown by `pad`, clipped to the mask. */
export function getCropRegion(mask: Raster, pad: number): CropBox {
  const { width: w, height: h } = mask
  let x1 = w
  let y1 = h
  let x2 = 0
  let y2 = 0
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask.data[y * w + x] === 0) continue
      x1 = Math.min(x1, x); x2 = Math.max(x2, x + 1); y1 = Math.min(y1, y); y2 = Math.max(y2, y + 1)
    }
  }
  if (x2 === 0) throw new InputError('the mask is empty (all black), so "only masked" has nothing to inpaint. Hint: paint the area to redo white, or use --invert-mask.')
  return { x1: Math.max(x1 - pad, 0), y1: Math.max(y1 - pad, 0), x2: Math.min(x2 + pad, w), y2: Math.min(y2 + pad, h) }
}

/** One axis of masking.expand_crop_region: grow [a, b) by `diff`, centred, then shift back inside [0, size]. */
function growAxis(a: number, b: number, diff: number, size: number): [number, number] {
  a -= Math.floor(diff / 2)
  b += diff - Math.floor(diff / 2)
  if (b >= size) { a -= b - size; b = size }
  if (a < 0) { b -= a; a = 0 }
  if (b >= size) b = size
  return [a, b]
}

/** masking.expand_crop_region: grows the shorter side towards the processing aspect ratio. */
export function expandCropRegion(box: CropBox, processing: { width: number; height: number }, image: { width: number; height: number }): CropBox {
  const { x1, y1, x2, y2 } = box
  const ratioCrop = (x2 - x1) / (y2 - y1)
  const ratioProcessing = processing.width / processing.height
  if (ratioCrop > ratioProcessing) {
    const diff = Math.trunc((x2 - x1) / ratioProcessing - (y2 - y1))
    const [a, b] = growAxis(y1, y2, diff, image.height)
    return { x1, y1: a, x2, y2: b }
  }
  const diff = Math.trunc((y2 - y1) * ratioProcessing - (x2 - x1))
  const [a, b] = growAxis(x1, x2, diff, image.width)
  return { x1: a, y1, x2: b, y2 }
}

/** The picture with the masked area cut out, premultiplied (PIL 'RGBa' pasted through the inverted mask). */
function cutOut(picture: Raster, mask: Raster): Raster {
  const inverted = newRaster(mask.width, mask.height, 1)
  for (let i = 0; i < mask.data.length; i++) inverted.data[i] = 255 - mask.data[i]
  return pasteMasked(newRaster(picture.width, picture.height, 4), premultiply(withAlpha(picture)), inverted)
}

/**
 * masking.fill ("masked content: fill"): the cut-out picture blurred at radii 256 … 0, each result composited
 * `repeats` times onto a transparent canvas, so the hole fills with the surrounding colours. RGB in, RGB out.
 */
export function fillMasked(picture: Raster, mask: Raster): Raster {
  const masked = cutOut(picture, mask)
  let mod = newRaster(picture.width, picture.height, 4)
  for (const [radius, repeats] of [[256, 1], [64, 1], [16, 2], [4, 4], [2, 2], [0, 1]] as const) {
    const blurred = unpremultiply(pilGaussianBlur(masked, radius))
    for (let i = 0; i < repeats; i++) mod = alphaComposite(mod, blurred)
  }
  return dropAlpha(mod)
}

/**
 * The overlay A1111 composites over the result: the picture with alpha 255 − maskForOverlay (premultiplied paste,
 * then back to RGBA).
 */
export function makeOverlay(picture: Raster, maskForOverlay: Raster): Raster {
  return unpremultiply(cutOut(picture, maskForOverlay))
}

/**
 * The latent mask (A1111's nmask, 1 = repaint) [h, w]: the processed mask resized with PIL's default BICUBIC
 * filter to the latent size, /255, rounded (`mask_round`).
 */
export function latentMask(processedMask: Raster, latentW: number, latentH: number): Float32Array {
  const small = resample(processedMask, latentW, latentH, 'bicubic')
  return Float32Array.from({ length: latentW * latentH }, (_, i) => Math.round(small.data[i * small.channels] / 255))
}

/**
 * apply_overlay: the decoded picture, or for "only masked" the decoded picture resized into the crop box
 * (`resize_image(1, …)`) on a transparent canvas of the original size, with the overlay composited on top.
 */
export function applyOverlay(decoded: Raster, overlay: Raster, box?: CropBox): Raster {
  let base = withAlpha(decoded)
  if (box) {
    base = newRaster(overlay.width, overlay.height, 4)
    pasteAt(base, withAlpha(resizeImage('crop', decoded, box.x2 - box.x1, box.y2 - box.y1)), box.x1, box.y1)
  }
  return dropAlpha(alphaComposite(base, overlay))
}
