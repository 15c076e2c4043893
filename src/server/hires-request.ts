/**
 * A1111's hires fix fields (enable_hr, hr_*) → the Engine's `hires` (contract.ts HiresFix), as A1111 1.10 reads them
 * (processing.py StableDiffusionProcessingTxt2Img): hr_resize_x/y win over hr_scale; hr_second_pass_steps 0 = the
 * first pass's; "" prompts and null sampler/scheduler = the first pass's; a null hr_upscaler is the
 * latent_upscale_default_mode setting. The target size is checked against the server's pixel limit here, naming
 * the field, before any job exists; hr_checkpoint_name ("Use same checkpoint" = none) is a library checkpoint, as
 * refiner_checkpoint is. firstphase_width/height (pre-1.0 hires) set the first pass's size whether or not
 * hires fix is on, as A1111's __post_init__ does.
 */
import { InputError } from '../core/errors.ts'
import type { HiresFix } from '../engine/contract.ts'
import { isLatentUpscaler } from '../image/latent-upscale.ts'
import { hiresTarget } from '../pipeline/hires.ts'
import type { Options } from './options-store.ts'
import { limitError, num, str, type ServerLimits } from './request-base.ts'
import type { Txt2ImgBody } from './txt2img-schema.ts'

/** A1111's UI sends these for "the first pass's"; API clients copy them. */
const SAME = new Set(['use same sampler', 'use same scheduler', 'use same checkpoint'])
const given = (v: unknown): string | undefined => {
  const s = str(v)
  return s === undefined || s === '' || SAME.has(s.toLowerCase()) ? undefined : s
}

/** firstphase_width/height: the first pass's size when either is set (A1111 then takes both). */
export function firstPhaseSize(b: Txt2ImgBody): { width: number; height: number } | undefined {
  const w = num(b.firstphase_width) ?? 0
  const h = num(b.firstphase_height) ?? 0
  if (w === 0 && h === 0) return undefined
  if (w <= 0 || h <= 0) throw new InputError(`firstphase_width and firstphase_height must both be set (> 0) or both 0, got ${w}x${h}`)
  return { width: w, height: h }
}

/** `checkpoint`: a library checkpoint's title for a name (MapContext.checkpoint); it throws for an unknown name. */
export function hiresOf(b: Txt2ImgBody, size: { width: number; height: number }, o: Options, limits: ServerLimits, checkpoint: (name: string) => string): HiresFix | undefined {
  if (b.enable_hr !== true) return undefined
  const hrCheckpoint = given(b.hr_checkpoint_name)
  const resizeWidth = num(b.hr_resize_x) ?? 0
  const resizeHeight = num(b.hr_resize_y) ?? 0
  if (resizeWidth < 0 || resizeHeight < 0) throw new InputError(`hr_resize_x and hr_resize_y must be 0 (from the other side) or a size, got ${resizeWidth}x${resizeHeight}`)
  const scale = num(b.hr_scale) ?? 2
  const resized = resizeWidth > 0 || resizeHeight > 0
  if (!resized && !(scale >= 1 && scale <= 8)) throw new InputError(`hr_scale must be in [1, 8], got ${scale}`)
  const target = hiresTarget(size.width, size.height, resized ? { resize: { width: resizeWidth, height: resizeHeight } } : { scale })
  const pixels = target.width * target.height
  if (pixels > limits.maxPixels) {
    throw limitError(`the hires target (${resized ? 'hr_resize_x × hr_resize_y' : 'hr_scale'}) ${target.width}×${target.height} =`, pixels, limits.maxPixels, '--max-pixels')
  }
  const steps = num(b.hr_second_pass_steps) ?? 0
  if (steps < 0) throw new InputError(`hr_second_pass_steps must be 0 (the first pass's) or more, got ${steps}`)
  if (steps > limits.maxSteps) throw limitError('hr_second_pass_steps', steps, limits.maxSteps, '--max-steps')
  const strength = num(b.denoising_strength)
  if (strength !== undefined && !(strength > 0 && strength <= 1)) throw new InputError(`denoising_strength (the hires pass's) must be in (0, 1], got ${strength}`)
  // A null hr_upscaler is the setting's mode, and A1111 then writes no "Hires upscaler" (the engine's default is Latent)
  const fallback = str(o.latent_upscale_default_mode)
  const upscaler = str(b.hr_upscaler) ?? (fallback && fallback !== 'Latent' ? fallback : undefined)
  const out: Record<string, unknown> = {
    ...(resized ? { resizeWidth, resizeHeight } : { scale }), upscaler, steps: steps || undefined, denoisingStrength: strength,
    prompt: str(b.hr_prompt) || undefined, negativePrompt: str(b.hr_negative_prompt) || undefined,
    sampler: given(b.hr_sampler_name), scheduler: given(b.hr_scheduler), cfgScale: num(b.hr_cfg),
    checkpoint: hrCheckpoint === undefined ? undefined : checkpoint(hrCheckpoint),
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as HiresFix
}

/**
 * An hr_upscaler that is not built in must be a network upscaler of the library, checked when the job is accepted
 * (A1111: "could not find upscaler named X") rather than when it runs.
 */
export async function checkUpscaler(hires: HiresFix | undefined, networks: () => Promise<readonly { name: string }[]>): Promise<void> {
  const name = hires?.upscaler
  if (name === undefined || isLatentUpscaler(name) || name === 'Lanczos' || name === 'Nearest') return
  const known = (await networks()).map((u) => u.name)
  if (!known.includes(name)) {
    throw new InputError(`hr_upscaler: could not find upscaler named "${name}"; GET /sdapi/v1/upscalers and /sdapi/v1/latent-upscale-modes list them (${['Latent', 'Lanczos', 'Nearest', ...known].join(', ')}, …)`)
  }
}
