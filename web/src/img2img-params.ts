/**
 * img2img and inpaint settings (A1111's img2img tab) and the fields they add to a job body: init_images, the mask,
 * denoising strength, resize mode and the inpaint options (sent only with a mask, as A1111's inpaint tab does).
 */

/** A1111's resize_mode values, in its order. */
export const RESIZE_MODES = ['Just resize', 'Crop and resize', 'Resize and fill', 'Just resize (latent upscale)'] as const
/** A1111's inpainting_fill values ("Masked content"), in its order. */
export const MASKED_CONTENT = ['fill', 'original', 'latent noise', 'latent nothing'] as const

/** The picture to start from: PNG as base64 (no data: prefix) and its size. */
export interface InitImage { readonly png: string; readonly width: number; readonly height: number; readonly name: string }

export interface Img2ImgParams {
  readonly image: InitImage | undefined
  readonly denoise: number
  readonly resizeMode: number
  readonly maskBlur: number
  /** inpainting_fill, an index of MASKED_CONTENT. */
  readonly maskedContent: number
  /** inpaint_full_res: sample only the masked area (plus padding) at full resolution. */
  readonly onlyMasked: boolean
  readonly padding: number
  /** inpainting_mask_invert: inpaint what is NOT painted. */
  readonly invertMask: boolean
}

export const IMG2IMG_DEFAULTS: Img2ImgParams = {
  image: undefined, denoise: 0.75, resizeMode: 0, maskBlur: 4, maskedContent: 1, onlyMasked: false, padding: 32, invertMask: false,
}

/** Thrown when a request cannot be made; `field` names the control the message belongs beside. */
export class MissingInputError extends Error {
  constructor(readonly field: string, message: string) { super(message) }
}

/** The img2img fields of a job body; `mask` is the painted mask as PNG base64 (white = repaint), absent for none. */
export function img2imgFields(p: Img2ImgParams, mask: string | undefined): Record<string, unknown> {
  if (!p.image) throw new MissingInputError('init_images', 'Choose a picture to start from first (drop it on the picture box or pick a file).')
  return {
    init_images: [p.image.png], denoising_strength: p.denoise, resize_mode: p.resizeMode,
    ...(mask === undefined ? {} : {
      mask, mask_blur: p.maskBlur, inpainting_fill: p.maskedContent, inpaint_full_res: p.onlyMasked,
      inpaint_full_res_padding: p.padding, inpainting_mask_invert: p.invertMask ? 1 : 0,
    }),
  }
}

/** A picture's size as the form's width/height: multiples of 8 (the latent grid), at least 64. */
export const snapSize = (n: number): number => Math.max(64, Math.round(n / 8) * 8)
