/**
 * An A1111 txt2img body (validated by txt2img-schema.ts) + the settings → the Engine's plain-data request, checked
 * against the server's limits: the shared fields by request-base.ts, hires fix by hires-request.ts. Fields that only
 * change A1111's UI (restore_faces off, do_not_save_*) are ignored as A1111 itself overwrites them.
 */
import type { Txt2ImgGeneration } from '../engine/contract.ts'
import { validateRequest } from '../engine/validate.ts'
import { firstPhaseSize, hiresOf } from './hires-request.ts'
import { baseRequest, outdirOf, type GenerationJobPayload, type MapContext } from './request-base.ts'
import type { Txt2ImgBody } from './txt2img-schema.ts'

export { DEFAULT_LIMITS, type GenerationJobPayload, type MapContext, type ServerLimits } from './request-base.ts'

/** Body → job payload; throws InputError/LimitError/LibraryNameError for what cannot run. */
export function toGenerationPayload(b: Txt2ImgBody, face: GenerationJobPayload['face'], ctx: MapContext): GenerationJobPayload {
  const m = baseRequest(b, ctx, firstPhaseSize(b))
  const hires = hiresOf(b, m.dims, ctx.options, ctx.limits, ctx.checkpoint)
  const request: Txt2ImgGeneration = { mode: 'txt2img', ...m.base, ...(hires ? { hires } : {}) }
  validateRequest(request) // the engine's own checks (sampler and scheduler names, sizes), before the job is queued
  return {
    request, face, saveImages: b.save_images === true, outdir: outdirOf(ctx.options, 'txt2img'), modelTitle: m.modelTitle,
    styles: m.styles, subseed: m.subseed, parameters: m.parameters,
  }
}
