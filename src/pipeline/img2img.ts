/*
 * img2img as A1111 1.8 runs it (processing.py StableDiffusionProcessingImg2Img @ c8a5322d): the init picture resized
 * by the resize mode, encoded (posterior mean × scale), repeated over the batch; sampling starts at
 * sigma_sched[0] of the last t_enc + 1 steps of the full schedule (t_enc = int(min(strength, 0.999) · steps)) from
 * init + noise · sigma_sched[0]. With a mask it is inpainting (inpaint.ts).
 */
import { InputError } from '../core/errors.ts'
import type { Raster } from '../image/raster.ts'
import { resizeImage, type ResizeMode } from '../image/resize-modes.ts'
import { encodePicture, repeatBatch } from './encode-picture.ts'
import type { LoadedModel } from './load-model.ts'
import { inpaintSpec, type InpaintOptions } from './inpaint.ts'
import { resolveRequest, type GenerationParams, type ResolvedRequest } from './request.ts'
import { runBatches, type FinishedImage, type InitLatent, type ModeSpec, type RunOptions } from './run-batches.ts'

export interface Img2ImgRequest extends GenerationParams {
  /** The init picture, flattened to RGB (image/read-image.ts toRgbFlattened). */
  readonly init: Raster
  /** A1111 "Denoising strength" in (0, 1]. */
  readonly denoisingStrength: number
  /** Default 'just'. */
  readonly resizeMode?: ResizeMode
  /** Inpainting: the mask and its options. */
  readonly inpaint?: InpaintOptions
}

export function checkStrength(strength: number): number {
  if (!(strength > 0 && strength <= 1)) throw new InputError(`denoising strength must be in (0, 1], got ${strength}. Hint: 0.75 is A1111's default.`)
  return strength
}

/** Encodes a picture once and starts every batch from it at a strength. */
export function encodedInit(picture: Raster, strength: number): InitLatent {
  let one: Promise<Float32Array> | undefined
  return async (model, ctx, opts) => {
    one ??= encodePicture(model, picture, opts.vaeTiling)
    return { img2img: { latent: repeatBatch(await one, ctx.seeds.length), strength } }
  }
}

/** Infotext fields every img2img run writes. */
export const img2imgInfo = (strength: number) => ({ denoisingStrength: strength })

export function img2imgSpec(model: LoadedModel, req: Img2ImgRequest, r: ResolvedRequest): ModeSpec {
  const strength = checkStrength(req.denoisingStrength)
  if (req.inpaint) return inpaintSpec(model, req, r, { strength, options: req.inpaint })
  const picture = resizeImage(req.resizeMode ?? 'just', req.init, r.width, r.height)
  return { req, r, init: encodedInit(picture, strength), info: img2imgInfo(strength) }
}

export async function img2img(model: LoadedModel, req: Img2ImgRequest, opts: RunOptions = {}): Promise<FinishedImage[]> {
  return runBatches(model, img2imgSpec(model, req, resolveRequest(model.nativeSize, req)), opts)
}
