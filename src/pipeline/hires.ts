/*
 * Hires fix as A1111 1.8 runs it (processing.py StableDiffusionProcessingTxt2Img.init_hr / sample_hr_pass @ c8a5322d):
 * a second pass over the first pass's latents at the target size, as img2img with explicit steps:
 *  - latent upscalers: F.interpolate of the latents (image/latent-upscale.ts);
 *  - pixel upscalers: decode → uint8 (truncation) → resize_image(0, …, upscaler) → encode (posterior mean);
 *  - fresh noise: a new ImageRNG at the target shape (per seed, not a continuation of the first pass);
 *  - sample_img2img(steps = hires steps or the first pass's): exactly that many steps at the hires denoising strength;
 *  - the second pass's own sampler, schedule type and CFG scale (hr_sampler_name, hr_scheduler, hr_cfg; absent = the
 *    first pass's), and its own conditioning (calculate_hr_conds): hr_prompt / hr_negative_prompt (absent or '' = the
 *    first pass's), at the target size (SDXL size ids), its prompt-editing schedule over the hires steps;
 *  - A1111 1.6+'s hires checkpoint (RunOptions.hiresModel): the first pass's latents are decoded by the first model
 *    (pixel upscalers), then the other checkpoint encodes, builds the second pass's conditioning, samples and decodes
 *    (sample() switches models between the decode and sample_hr_pass); "Hires checkpoint" names it in the infotext.
 */
import { InputError } from '../core/errors.ts'
import { isLatentUpscaler, upscaleLatent } from '../image/latent-upscale.ts'
import { pixelUpscaler, upscaleTo, type PixelUpscaler } from '../image/pixel-upscale.ts'
import { rasterFromRgb } from '../image/raster.ts'
import { imageToUint8 } from '../image/to-uint8.ts'
import { decodeOne } from './decode.ts'
import { encodePicture } from './encode-picture.ts'
import { checkStrength } from './img2img.ts'
import type { LoadedModel } from './load-model.ts'
import { resolveRequest, scheduleSteps, type GenerationParams, type ResolvedRequest } from './request.ts'
import { conditioningRequest, runBatches, NOISE_INIT, sampleBatch, type FinishedImage, type ModeSpec, type RunOptions, type SecondPass } from './run-batches.ts'
import { SCHEDULERS, resolveSamplerAndSchedule, scheduleTypeLabel } from '../sampling/index.ts'

export interface HiresOptions {
  /** "Upscale by" (default 2), unless `resize` is given. */
  readonly scale?: number
  /** "Resize width/height to" (0 = from the other side and the aspect ratio). */
  readonly resize?: { readonly width: number; readonly height: number }
  /** A "Latent …" name, "Lanczos", "Nearest", or a model upscaler's name (default "Latent"). */
  readonly upscaler?: string
  /** Hires steps; 0 or absent = the first pass's steps. */
  readonly steps?: number
  /** Default 0.7. */
  readonly denoisingStrength?: number
  /** A1111 hr_prompt / hr_negative_prompt; absent or '' = the first pass's. */
  readonly prompt?: string
  readonly negativePrompt?: string
  /** A1111 hr_sampler_name / hr_scheduler; absent = the first pass's. */
  readonly sampler?: string
  readonly scheduler?: string
  /** A1111 hr_cfg (Forge's "Hires CFG Scale"); absent = the first pass's CFG scale. */
  readonly cfgScale?: number
  /** "Hires checkpoint" in the infotext (A1111's short_title: name [AutoV2]); the model itself is RunOptions.hiresModel. */
  readonly checkpointTitle?: string
}

export interface HiresRequest extends GenerationParams {
  readonly hires: HiresOptions
  /** ESRGAN-family models offered as upscalers (models/esrgan). */
  readonly upscalers?: readonly PixelUpscaler[]
}

interface Target { readonly width: number; readonly height: number; readonly truncateX: number; readonly truncateY: number }

/** init_hr: the target size, and the latent rows/columns to cut when "resize to" changes the aspect ratio. */
export function hiresTarget(width: number, height: number, h: HiresOptions): Target {
  const rw = h.resize?.width ?? 0
  const rh = h.resize?.height ?? 0
  if (rw === 0 && rh === 0) {
    const scale = h.scale ?? 2
    if (!(scale >= 1 && scale <= 8)) throw new InputError(`hires scale must be in [1, 8], got ${scale}.`)
    return { width: Math.trunc(width * scale), height: Math.trunc(height * scale), truncateX: 0, truncateY: 0 }
  }
  if (rh === 0) return { width: rw, height: Math.floor((rw * height) / width), truncateX: 0, truncateY: 0 }
  if (rw === 0) return { width: Math.floor((rh * width) / height), height: rh, truncateX: 0, truncateY: 0 }
  const byWidth = width / height < rw / rh
  const tw = byWidth ? rw : Math.floor((rh * width) / height)
  const th = byWidth ? Math.floor((rw * height) / width) : rh
  return { width: tw, height: th, truncateX: Math.floor((tw - rw) / 8), truncateY: Math.floor((th - rh) / 8) }
}

/** samples[:, :, ty//2 : H-(ty+1)//2, tx//2 : W-(tx+1)//2] */
function truncate(x: Float32Array, shape: readonly number[], t: Target): { latent: Float32Array; h: number; w: number } {
  const [b, c, h, w] = shape
  const y0 = Math.floor(t.truncateY / 2)
  const x0 = Math.floor(t.truncateX / 2)
  const nh = h - y0 - Math.floor((t.truncateY + 1) / 2)
  const nw = w - x0 - Math.floor((t.truncateX + 1) / 2)
  if (nh === h && nw === w) return { latent: x, h, w }
  const out = new Float32Array(b * c * nh * nw)
  for (let p = 0; p < b * c; p++) {
    for (let y = 0; y < nh; y++) out.set(x.subarray((p * h + y0 + y) * w + x0, (p * h + y0 + y) * w + x0 + nw), (p * nh + y) * nw)
  }
  return { latent: out, h: nh, w: nw }
}

/** The second pass's sampling parameters: the first pass's with hr_sampler_name / hr_scheduler / hr_cfg / hires steps. */
function secondPassRequest(req: HiresRequest, r: ResolvedRequest): ResolvedRequest {
  const h = req.hires
  const { entry: sampler, scheduler: id } = resolveSamplerAndSchedule(h.sampler ?? req.sampler ?? 'Euler a', h.scheduler ?? req.scheduler)
  const cfgScale = h.cfgScale ?? r.cfgScale
  if (!Number.isFinite(cfgScale)) throw new InputError(`hires CFG scale must be a number, got ${h.cfgScale}`)
  return { ...r, sampler, scheduler: SCHEDULERS[id].label, cfgScale, steps: h.steps || r.steps }
}

function hiresPass(req: HiresRequest, t: Target, strength: number, r2: ResolvedRequest): SecondPass {
  const name = req.hires.upscaler ?? 'Latent'
  const pixel = isLatentUpscaler(name) ? undefined : pixelUpscaler(name, req.upscalers)
  return async (model, first, ctx, opts) => {
    const second = opts.hiresModel?.model ?? model
    const [c] = first.latentShape
    const b = ctx.seeds.length
    let up: Float32Array
    if (!pixel) {
      up = upscaleLatent(first.latent, [b, ...first.latentShape], t.height / 8, t.width / 8, name)
    } else {
      up = new Float32Array(b * c * (t.height / 8) * (t.width / 8))
      // as runBatches does between phases: the UNet's and the VAE's activation memory are never held at once
      if (!opts.keepSessions) await model.releaseSessions('unet')
      try {
        for (let i = 0; i < b; i++) {
          const decoded = await decodeOne(model, first.latent, i, first.latentShape, { tiling: opts.vaeTiling })
          const big = await upscaleTo(rasterFromRgb(imageToUint8(decoded.image)), t.width, t.height, pixel)
          up.set(await encodePicture(second, big, opts.vaeTiling), (i * up.length) / b)
        }
      } finally {
        await pixel.release?.()                       // an ESRGAN network is not held through the second pass's sampling
        if (!opts.keepSessions) await model.releaseSessions('vae')
      }
    }
    // the first model's UNet is not held while the hires checkpoint samples
    if (second !== model && !opts.keepSessions) await model.releaseSessions('unet')
    const cut = truncate(up, [b, c, t.height / 8, t.width / 8], t)
    const latentShape = [c, cut.h, cut.w] as const
    const pass = { ...ctx, r: r2, latentShape, conditioning: ctx.secondConditioning ?? ctx.conditioning }
    const latent = await sampleBatch(second, pass, { img2img: { latent: cut.latent, strength, steps: r2.steps } }, opts)
    return { latent, latentShape }
  }
}

/** The infotext fields A1111 adds for hires fix, in its order (processing.py txt2img init; get_sigmas for the schedule). */
function hiresInfo(req: HiresRequest, r: ResolvedRequest, r2: ResolvedRequest): Record<string, string | number> {
  const h = req.hires
  const extra: Record<string, string | number> = h.resize && (h.resize.width || h.resize.height)
    ? { 'Hires resize': `${h.resize.width}x${h.resize.height}` } : { 'Hires upscale': h.scale ?? 2 }
  if (h.steps) extra['Hires steps'] = h.steps
  extra['Hires upscaler'] = h.upscaler ?? 'Latent'
  if (h.checkpointTitle) extra['Hires checkpoint'] = h.checkpointTitle
  if (r2.sampler.label !== r.sampler.label) extra['Hires sampler'] = r2.sampler.label
  if (h.prompt && h.prompt !== req.prompt) extra['Hires prompt'] = h.prompt
  if (h.negativePrompt && h.negativePrompt !== (req.negativePrompt ?? '')) extra['Hires negative prompt'] = h.negativePrompt
  const schedule = scheduleTypeLabel(r2.sampler, r2.scheduler)
  if (schedule !== scheduleTypeLabel(r.sampler, r.scheduler)) extra['Hires schedule type'] = schedule
  if (r2.cfgScale !== r.cfgScale) extra['Hires CFG Scale'] = r2.cfgScale
  return extra
}

export function hiresSpec(req: HiresRequest, r: ResolvedRequest): ModeSpec {
  const t = hiresTarget(r.width, r.height, req.hires)
  if (t.width % 8 !== 0 || t.height % 8 !== 0) throw new InputError(`the hires size ${t.width}x${t.height} is not a multiple of 8. Hint: pick a scale that keeps it so.`)
  const strength = checkStrength(req.hires.denoisingStrength ?? 0.7)
  const r2 = secondPassRequest(req, r)
  const hr = { ...req, prompt: req.hires.prompt || req.prompt, negativePrompt: req.hires.negativePrompt || req.negativePrompt }
  const secondConditioning = {
    ...conditioningRequest(hr, r), hiresSteps: scheduleSteps(r2), width: t.width, height: t.height,
  }
  return {
    req, r, init: NOISE_INIT, secondPass: hiresPass(req, t, strength, r2), secondConditioning,
    info: { denoisingStrength: strength, extra: hiresInfo(req, r, r2) },
  }
}

/** txt2img with hires fix. */
export async function txt2imgHires(model: LoadedModel, req: HiresRequest, opts: RunOptions = {}): Promise<FinishedImage[]> {
  return runBatches(model, hiresSpec(req, resolveRequest(model.nativeSize, req)), opts)
}
