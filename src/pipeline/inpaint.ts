/*
 * Inpainting as A1111 1.8 runs it (processing.py StableDiffusionProcessingImg2Img.init/sample @ c8a5322d): the
 * picture side in image/inpaint-prep.ts; here the latent side: the latent mask, "latent noise" / "latent nothing"
 * applied to the init latent, the blend at every model call (sampling/inpaint-blend.ts), the 9-channel UNet's
 * c_concat, and the overlay composite of the decoded picture (back into the full picture for "only masked").
 */
import type { Raster } from '../image/raster.ts'
import { prepareInpaintPicture, type InpaintFill } from '../image/inpaint-prep.ts'
import { applyOverlay, latentMask } from '../image/masking.ts'
import { ImageRng } from '../sampling/index.ts'
import { encodePicture, repeatBatch } from './encode-picture.ts'
import { inpaintConditioning } from './image-conditioning.ts'
import { img2imgInfo, type Img2ImgRequest } from './img2img.ts'
import { INPAINT_CHANNELS, type LoadedModel } from './load-model.ts'
import type { ResolvedRequest } from './request.ts'
import type { InitLatent, ModeSpec } from './run-batches.ts'

export interface InpaintOptions {
  /** 'L' mask (image/read-image.ts toMaskL), 255 = repaint. */
  readonly mask: Raster
  /** A1111 "Mask blur", default 4. */
  readonly maskBlur?: number
  readonly invertMask?: boolean
  /** A1111 "Masked content", default 'original'. */
  readonly fill?: InpaintFill
  /** A1111 "Inpaint area: Only masked" with this padding (default 32); absent = whole picture. */
  readonly onlyMasked?: { readonly padding?: number }
}

const FILL_LABELS: Readonly<Record<InpaintFill, string | undefined>> = {
  'original': undefined, 'fill': 'fill', 'latent-noise': 'latent noise', 'latent-nothing': 'latent nothing',
}

function inpaintInit(picture: Raster, mask: Raster, fill: InpaintFill, strength: number): InitLatent {
  let encoded: Promise<Float32Array> | undefined
  return async (model, ctx, opts) => {
    encoded ??= encodePicture(model, picture, opts.vaeTiling)
    const [c, h, w] = ctx.latentShape
    const nmask = latentMask(mask, w, h)
    let latent = repeatBatch(await encoded, ctx.seeds.length)
    if (fill === 'latent-noise' || fill === 'latent-nothing') {
      // A1111 (init, once per run): create_random_tensors(shape, all_seeds[0:B]) = a fresh ImageRNG(seeds).first()
      // without variation seeds, i.e. the first batch's sampling noise; later batches reuse it, as A1111 does.
      const noise = fill === 'latent-noise'
        ? new ImageRng({ shape: [c, h, w], seeds: ctx.r.seeds.slice(0, ctx.seeds.length), source: ctx.r.rng }).first() : undefined
      latent = latent.map((v, i) => Math.fround(Math.fround(v * (1 - nmask[i % (h * w)])) + (noise ? Math.fround(noise[i] * nmask[i % (h * w)]) : 0)))
    }
    const imageConditioning = model.unetConfig.inChannels === INPAINT_CHANNELS
      ? await inpaintConditioning(model, picture, mask, ctx.seeds.length, opts.vaeTiling) : undefined
    return { img2img: { latent, strength, mask: { initLatent: latent, nmask } }, ...(imageConditioning ? { imageConditioning } : {}) }
  }
}

export function inpaintSpec(model: LoadedModel, req: Img2ImgRequest, r: ResolvedRequest, o: { strength: number; options: InpaintOptions }): ModeSpec {
  const opt = o.options
  const fill = opt.fill ?? 'original'
  const maskBlur = opt.maskBlur ?? 4
  const padding = opt.onlyMasked ? opt.onlyMasked.padding ?? 32 : undefined
  const prep = prepareInpaintPicture(req.init, opt.mask, {
    width: r.width, height: r.height, resizeMode: req.resizeMode ?? 'just', maskBlur, invertMask: opt.invertMask ?? false, fill,
    ...(padding !== undefined ? { onlyMasked: { padding } } : {}),
  })
  const extra: Record<string, string | number> = {}
  if (opt.invertMask) extra['Mask mode'] = 'Inpaint not masked'
  if (maskBlur > 0) extra['Mask blur'] = maskBlur
  if (padding !== undefined) { extra['Inpaint area'] = 'Only masked'; extra['Masked area padding'] = padding }
  const fillLabel = FILL_LABELS[fill]
  if (fillLabel) extra['Masked content'] = fillLabel
  return {
    req, r,
    init: inpaintInit(prep.picture, prep.mask, fill, o.strength),
    info: { ...img2imgInfo(o.strength), extra },
    composite: (decoded) => applyOverlay({ ...decoded, channels: 3 }, prep.overlay, prep.cropBox),
  }
}
