/**
 * An A1111 img2img body → the Engine's img2img request (a1111-api.md §4, with the API's own defaults: inpainting_fill
 * 0 "fill", inpaint_full_res true "only masked", padding 0). The pictures are decoded here, bounded, so that a bad one
 * is a 4xx naming its field before any job exists; the job row keeps them encoded (request-base.ts StoredRequest) and
 * `materialize` decodes them again for the worker. Decoding is read-image.ts's, as the CLI's (`sdloom img2img`), so
 * the same file gives the same pixels: an RGBA init is flattened on white, a mask with real alpha uses its alpha.
 */
import { InputError } from '../core/errors.ts'
import type { GenerationRequest, Img2ImgGeneration, InpaintFillName, InpaintRequest, ResizeModeName } from '../engine/contract.ts'
import { validateRequest } from '../engine/validate.ts'
import { MAX_INPUT_PIXELS, toMaskL, toRgbFlattened } from '../image/read-image.ts'
import { base64Of, decodeUpload } from './input-images.ts'
import { baseRequest, num, outdirOf, str, type GenerationJobPayload, type MapContext, type StoredImg2Img } from './request-base.ts'
import type { Txt2ImgBody } from './txt2img-schema.ts'

const RESIZE_MODES: readonly ResizeModeName[] = ['just', 'crop', 'fill', 'latent']
const FILLS: readonly InpaintFillName[] = ['fill', 'original', 'latent-noise', 'latent-nothing']

/** An integer field that indexes a list (A1111's radio buttons), named in the error. */
function indexOf<T>(field: string, v: unknown, list: readonly T[], dflt: number, what: string): T {
  const i = num(v) ?? dflt
  if (!Number.isInteger(i) || i < 0 || i >= list.length) throw new InputError(`${field} must be 0..${list.length - 1} (${what}), got ${i}`)
  return list[i]
}

/** A1111 mask_blur sets both mask_blur_x and _y; the engine blurs both ways alike, so they must agree. */
function maskBlurOf(b: Txt2ImgBody): number {
  const both = num(b.mask_blur)
  if (both !== undefined) return both
  const x = num(b.mask_blur_x) ?? 4
  const y = num(b.mask_blur_y) ?? 4
  if (x !== y) throw new InputError(`mask_blur_x (${x}) and mask_blur_y (${y}) differ; sdloom blurs the mask alike both ways: send mask_blur`)
  return x
}

function inpaintOf(b: Txt2ImgBody): Omit<InpaintRequest, 'mask'> {
  const padding = num(b.inpaint_full_res_padding) ?? 0
  if (padding < 0) throw new InputError(`inpaint_full_res_padding must be 0 or more pixels, got ${padding}`)
  const blur = maskBlurOf(b)
  if (blur < 0) throw new InputError(`mask_blur must be 0 or more pixels, got ${blur}`)
  return {
    maskBlur: blur, invertMask: (num(b.inpainting_mask_invert) ?? 0) !== 0,
    fill: indexOf('inpainting_fill', b.inpainting_fill, FILLS, 0, '0 fill, 1 original, 2 latent noise, 3 latent nothing'),
    ...(b.inpaint_full_res === false ? {} : { onlyMasked: { padding } }),
  }
}

/** What sdloom does not do yet, refused by name. */
function refuseUnsupported(b: Txt2ImgBody): void {
  if (b.latent_mask) throw new InputError('latent_mask: a separate mask for latent blending is not supported by sdloom yet; leave it out')
  const noise = num(b.initial_noise_multiplier)
  if (noise !== undefined && noise !== 1) throw new InputError(`initial_noise_multiplier: only 1 (A1111's default) is supported by sdloom yet, got ${noise}`)
}

interface Pictures { readonly init: string; readonly mask?: string }

/** The picture fields as base64 (checked), without decoding. */
function picturesOf(b: Txt2ImgBody): Pictures {
  const inits = b.init_images as unknown[] | null | undefined
  if (!Array.isArray(inits) || inits.length === 0) throw new InputError('init_images: required, a list with one picture (base64 PNG, JPEG or WebP)')
  if (inits.length > 1) throw new InputError(`init_images: sdloom takes one init picture per request, got ${inits.length}; send one request per picture`)
  const mask = str(b.mask)
  return { init: base64Of('init_images[0]', String(inits[0])), ...(mask ? { mask: base64Of('mask', mask) } : {}) }
}

/** The pictures decoded into the request (bounded by the server's input pixel limit). */
async function decodePictures(stored: StoredImg2Img, pictures: Pictures, maxPixels: number): Promise<Img2ImgGeneration> {
  const init = toRgbFlattened(await decodeUpload('init_images[0]', pictures.init, maxPixels))
  const rgb = { width: init.width, height: init.height, data: init.data }
  const { inpaint, ...rest } = stored
  if (!pictures.mask || !inpaint) return { ...rest, init: rgb }
  const m = toMaskL(await decodeUpload('mask', pictures.mask, maxPixels))
  return { ...rest, init: rgb, inpaint: { ...inpaint, mask: { width: m.width, height: m.height, data: m.data } } }
}

const withoutUndefined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

/** Body → job payload; the pictures are decoded (and checked) once here. */
export async function toImg2ImgPayload(b: Txt2ImgBody, face: GenerationJobPayload['face'], ctx: MapContext): Promise<GenerationJobPayload> {
  refuseUnsupported(b)
  const pictures = picturesOf(b)
  const m = baseRequest(b, ctx)
  const strength = num(b.denoising_strength) ?? 0.75
  if (!(strength > 0 && strength <= 1)) throw new InputError(`denoising_strength must be in (0, 1], got ${strength}. Hint: 0.75 is A1111's default; 1 repaints from noise`)
  const resizeMode = indexOf('resize_mode', b.resize_mode, RESIZE_MODES, 0, '0 just resize, 1 crop and resize, 2 resize and fill, 3 just resize (latent upscale)')
  const stored: StoredImg2Img = withoutUndefined({
    mode: 'img2img' as const, ...m.base, denoisingStrength: strength, resizeMode, ...(pictures.mask ? { inpaint: inpaintOf(b) } : {}),
  })
  validateRequest(await decodePictures(stored, pictures, ctx.limits.maxInputPixels)) // the engine's checks, with the real pictures
  const keep = b.include_init_images === true
  return {
    request: stored, pictures, face, saveImages: b.save_images === true, outdir: outdirOf(ctx.options, 'img2img'),
    modelTitle: m.modelTitle, styles: m.styles, subseed: m.subseed,
    // A1111 echoes the pictures only when include_init_images (they are most of the body)
    parameters: { ...m.parameters, denoising_strength: strength, init_images: keep ? b.init_images : null, mask: keep ? b.mask ?? null : null },
  }
}

/** The request a worker runs: the stored one, with img2img's pictures decoded again (they passed the limit when accepted). */
export async function materialize(p: GenerationJobPayload): Promise<GenerationRequest> {
  if (p.request.mode !== 'img2img') return p.request
  if (!p.pictures) throw new InputError('this img2img job has no init picture stored; submit it again')
  return decodePictures(p.request, p.pictures, MAX_INPUT_PIXELS)
}
