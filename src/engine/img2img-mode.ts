/*
 * The engine's img2img mode: the contract's picture and mask as the pipeline's rasters, then the pipeline's img2img
 * or inpainting spec. A1111's resize_mode 3 ("Just resize (latent upscale)") is this file's own: the picture is
 * encoded at its own size and the latents are resized bilinearly to the target (processing.py
 * StableDiffusionProcessingImg2Img.init @ c8a5322d: F.interpolate(init_latent, size=(H/8, W/8), mode="bilinear")).
 */
import { upscaleLatent } from '../image/latent-upscale.ts'
import type { Raster } from '../image/raster.ts'
import { encodePicture, repeatBatch } from '../pipeline/encode-picture.ts'
import { checkStrength, img2imgInfo, img2imgSpec } from '../pipeline/img2img.ts'
import type { InpaintOptions } from '../pipeline/inpaint.ts'
import type { LoadedModel } from '../pipeline/load-model.ts'
import type { GenerationParams, ResolvedRequest } from '../pipeline/request.ts'
import type { InitLatent, ModeSpec } from '../pipeline/run-batches.ts'
import type { Img2ImgGeneration, InpaintRequest } from './contract.ts'

/** A1111's img2img default denoising_strength. */
export const DEFAULT_DENOISE = 0.75

const inpaintOptions = (o: InpaintRequest): InpaintOptions => ({ ...o, mask: { ...o.mask, channels: 1 } })

/** The picture encoded at its own size, its latents resized to the request's (once; every batch starts from it). */
function latentResizedInit(picture: Raster, strength: number): InitLatent {
  let one: Promise<Float32Array> | undefined
  return async (model, ctx, opts) => {
    const [c, h, w] = ctx.latentShape
    one ??= encodePicture(model, picture, opts.vaeTiling).then((latent) =>
      upscaleLatent(latent, [1, c, picture.height / 8, picture.width / 8], h, w, 'Latent'))
    return { img2img: { latent: repeatBatch(await one, ctx.seeds.length), strength } }
  }
}

export function img2imgModeSpec(model: LoadedModel, req: Img2ImgGeneration, params: GenerationParams, r: ResolvedRequest): ModeSpec {
  const init: Raster = { width: req.init.width, height: req.init.height, channels: 3, data: req.init.data }
  const strength = checkStrength(req.denoisingStrength ?? DEFAULT_DENOISE)
  if (req.resizeMode === 'latent') return { req: params, r, init: latentResizedInit(init, strength), info: img2imgInfo(strength) }
  return img2imgSpec(model, {
    ...params, init, denoisingStrength: strength, ...(req.resizeMode ? { resizeMode: req.resizeMode } : {}),
    ...(req.inpaint ? { inpaint: inpaintOptions(req.inpaint) } : {}),
  }, r)
}
