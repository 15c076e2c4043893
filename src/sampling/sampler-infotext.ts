/*
 * The infotext fields A1111 1.10 adds for sampler settings that differ from their defaults, in the order it adds
 * them (modules/sd_samplers_kdiffusion.py get_sigmas, sd_samplers_common.py Sampler.initialize,
 * sd_samplers_cfg_denoiser.py forward), and the reverse map for reading them back:
 *   Schedule min sigma / Schedule max sigma   when set (non-zero) and not the model's own, for a schedule function
 *   Schedule rho                              when set and not the schedule's default (Karras 7, Polyexponential 1)
 *   Eta (k-diffusion) / Eta DDIM (timestep)   when it differs from the sampler's default (1 / 0)
 *   Sigma churn / tmin / tmax / noise         when the sampler takes it and it is not 0 / 0 / inf / 1
 *   Skip Early CFG, NGMS                      when on (A1111 writes them once a call skips the uncond pass)
 */
import { effectiveScheduler } from './run.ts'
import type { SamplerParams } from './run.ts'
import { modelSchedule } from './schedules.ts'
import { resolveScheduler } from './schedulers.ts'
import type { ConcreteSchedulerId } from './schedulers.ts'
import type { ChurnParam, SamplerEntry } from './samplers/index.ts'

/** A1111's infotext name of each sampler parameter. */
export const SAMPLER_FIELD_NAMES = {
  sigmaMin: 'Schedule min sigma', sigmaMax: 'Schedule max sigma', rho: 'Schedule rho', eta: 'Eta', etaDdim: 'Eta DDIM',
  sChurn: 'Sigma churn', sTmin: 'Sigma tmin', sTmax: 'Sigma tmax', sNoise: 'Sigma noise',
  skipEarlyCond: 'Skip Early CFG', sMinUncond: 'NGMS',
} as const

const CHURN_DEFAULTS: Readonly<Record<ChurnParam, number>> = { sChurn: 0, sTmin: 0, sTmax: Infinity, sNoise: 1 }
const DEFAULT_RHO: Partial<Record<ConcreteSchedulerId, number>> = { karras: 7, polyexponential: 1 }

export interface SamplerInfoContext {
  readonly entry: SamplerEntry
  /** The schedule actually used ('uniform' for a sampler's own discrete schedule is not a schedule function). */
  readonly scheduler: ConcreteSchedulerId
  /** Whether Automatic resolved to the denoiser's own schedule (A1111 then applies no overrides). */
  readonly ownSchedule: boolean
  readonly model: { readonly sigmaMin: number; readonly sigmaMax: number }
}

/** The fields for `params` under `ctx`, in A1111's order; empty when everything is at its default. */
export function samplerInfotextFields(params: SamplerParams, ctx: SamplerInfoContext): Record<string, number> {
  const out: Record<string, number> = {}
  const { entry } = ctx
  if (entry.kind === 'k-diffusion' && !ctx.ownSchedule) {
    if (params.sigmaMin && params.sigmaMin !== ctx.model.sigmaMin) out[SAMPLER_FIELD_NAMES.sigmaMin] = params.sigmaMin
    if (params.sigmaMax && params.sigmaMax !== ctx.model.sigmaMax) out[SAMPLER_FIELD_NAMES.sigmaMax] = params.sigmaMax
    const rho = DEFAULT_RHO[ctx.scheduler]
    if (rho !== undefined && params.rho && params.rho !== rho) out[SAMPLER_FIELD_NAMES.rho] = params.rho
  }
  if (entry.eta !== undefined && params.eta !== undefined && params.eta !== entry.eta) {
    out[entry.kind === 'k-diffusion' ? SAMPLER_FIELD_NAMES.eta : SAMPLER_FIELD_NAMES.etaDdim] = params.eta
  }
  for (const p of entry.params) {
    const v = p === 'sTmax' && params[p] === 0 ? Infinity : params[p]
    if (v !== undefined && v !== CHURN_DEFAULTS[p]) out[SAMPLER_FIELD_NAMES[p]] = v
  }
  if (params.skipEarlyCond) out[SAMPLER_FIELD_NAMES.skipEarlyCond] = params.skipEarlyCond
  if (params.sMinUncond) out[SAMPLER_FIELD_NAMES.sMinUncond] = params.sMinUncond
  return out
}

/** The fields for a request: its sampler, chosen schedule type and the checkpoint's alphas_cumprod (default SD's). */
export function samplerInfotext(entry: SamplerEntry, scheduler: string, params: SamplerParams, alphasCumprod?: Float32Array): Record<string, number> {
  const ownSchedule = resolveScheduler(scheduler) === 'automatic' && entry.defaultScheduler === 'own'
  const { sigmaMin, sigmaMax } = modelSchedule(alphasCumprod)
  return samplerInfotextFields(params, { entry, scheduler: effectiveScheduler(entry, scheduler), ownSchedule, model: { sigmaMin, sigmaMax } })
}

/** Reads the fields back (by A1111's names) into sampler parameters; "Eta DDIM" and "Eta" both give eta. */
export function samplerParamsFromInfotext(fields: Readonly<Record<string, string>>): SamplerParams {
  const out: Record<string, number> = {}
  for (const [key, name] of Object.entries(SAMPLER_FIELD_NAMES)) {
    const raw = fields[name]
    const v = raw === undefined ? NaN : Number(raw === 'inf' ? 'Infinity' : raw)
    if (!Number.isNaN(v)) out[key === 'etaDdim' ? 'eta' : key] = v
  }
  return out as SamplerParams
}
