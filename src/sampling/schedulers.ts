/*
 * Scheduler ("Schedule type") names as A1111 1.10 (modules/sd_schedulers.py) and ComfyUI spell them, and the sigmas
 * each gives for a model schedule. 1.8 folded the schedule into sampler names ("DPM++ 2M Karras"); those names are
 * split in samplers/index.ts (resolveSamplerChoice).
 */
import { InputError } from '../core/errors.ts'
import type { ModelSchedule } from './schedules.ts'
import {
  getSigmasDiscrete, getSigmasExponential, getSigmasKarras, getSigmasPolyexponential, getSigmasSgmUniform,
  getSigmasSimple,
} from './schedules.ts'
import {
  AYS_TABLES, getSigmasAlignYourSteps, getSigmasBeta, getSigmasDdim, getSigmasKlOptimal, getSigmasNormal,
} from './schedules-a1111.ts'

/** What a schedule function may read: the model's schedule, its family (Align Your Steps) and A1111's overrides. */
export interface ScheduleContext {
  readonly schedule: ModelSchedule
  readonly steps: number
  /** The model family; Align Your Steps picks its table by it (SDXL vs the SD1 table for everything else). */
  readonly family?: string
  /** A1111 "sigma min" / "sigma max" (0 or absent: the model's own) and "rho" (absent: the schedule's default). */
  readonly sigmaMin?: number
  readonly sigmaMax?: number
  readonly rho?: number
}

interface SchedulerEntry {
  /** A1111's label (also the infotext's "Schedule type"). */
  readonly label: string
  /** ComfyUI's name, where ComfyUI has it. */
  readonly comfy?: string
  readonly aliases?: readonly string[]
  /** The sigmas (descending; a final 0 unless the schedule ends at σ_min, as KL Optimal does). */
  readonly sigmas?: (ctx: Required<Pick<ScheduleContext, 'sigmaMin' | 'sigmaMax'>> & ScheduleContext) => Float32Array
}

export const SCHEDULERS = {
  /** The sampler's own default (see SAMPLERS[...].defaultScheduler). */
  automatic: { label: 'Automatic' },
  /** k-diffusion get_sigmas: the denoiser's own discrete schedule (ComfyUI "normal"). */
  uniform: { label: 'Uniform', aliases: ['discrete'], sigmas: (c) => getSigmasDiscrete(c.schedule, c.steps) },
  karras: { label: 'Karras', comfy: 'karras', sigmas: (c) => getSigmasKarras(c.steps, c.sigmaMin, c.sigmaMax, c.rho ?? 7) },
  exponential: { label: 'Exponential', comfy: 'exponential', sigmas: (c) => getSigmasExponential(c.steps, c.sigmaMin, c.sigmaMax) },
  polyexponential: { label: 'Polyexponential', sigmas: (c) => getSigmasPolyexponential(c.steps, c.sigmaMin, c.sigmaMax, c.rho ?? 1) },
  sgm_uniform: { label: 'SGM Uniform', comfy: 'sgm_uniform', aliases: ['SGMUniform'], sigmas: (c) => getSigmasSgmUniform(c.schedule, c.steps) },
  kl_optimal: { label: 'KL Optimal', comfy: 'kl_optimal', sigmas: (c) => getSigmasKlOptimal(c.steps, c.sigmaMin, c.sigmaMax) },
  align_your_steps: {
    label: 'Align Your Steps', comfy: 'AYS', aliases: ['ays'],
    sigmas: (c) => getSigmasAlignYourSteps(c.steps, c.family?.startsWith('sdxl') ? AYS_TABLES.sdxl : AYS_TABLES.sd1),
  },
  simple: { label: 'Simple', comfy: 'simple', sigmas: (c) => getSigmasSimple(c.schedule, c.steps) },
  normal: { label: 'Normal', comfy: 'normal', sigmas: (c) => getSigmasNormal(c.schedule, c.steps) },
  ddim: { label: 'DDIM', comfy: 'ddim_uniform', sigmas: (c) => getSigmasDdim(c.schedule, c.steps) },
  beta: { label: 'Beta', comfy: 'beta', sigmas: (c) => getSigmasBeta(c.steps, c.sigmaMin, c.sigmaMax) },
} as const satisfies Record<string, SchedulerEntry>

export type SchedulerId = keyof typeof SCHEDULERS
export type ConcreteSchedulerId = Exclude<SchedulerId, 'automatic'>

const namesOf = (id: SchedulerId): string[] => {
  const e: SchedulerEntry = SCHEDULERS[id]
  return [id, e.label, ...(e.comfy ? [e.comfy] : []), ...(e.aliases ?? [])]
}

/** Scheduler id for a name, or undefined. */
export function findScheduler(name: string): SchedulerId | undefined {
  const key = name.trim().toLowerCase()
  return (Object.keys(SCHEDULERS) as SchedulerId[]).find((id) => namesOf(id).some((n) => n.toLowerCase() === key))
}

/** Scheduler id for an A1111 label, a ComfyUI name or an id (case-insensitive); InputError lists the valid names. */
export function resolveScheduler(name: string): SchedulerId {
  const hit = findScheduler(name)
  if (hit) return hit
  const ids = Object.keys(SCHEDULERS) as SchedulerId[]
  const valid = ids.map((id) => `"${SCHEDULERS[id].label}"`).join(', ')
  throw new InputError(`unknown scheduler "${name}". Valid: ${valid} (A1111 labels; ComfyUI names and ids also work).`)
}

/** The sigma schedule of a concrete scheduler over a model's schedule (A1111 KDiffusionSampler.get_sigmas). */
export function sigmasFor(scheduler: ConcreteSchedulerId, ctx: ScheduleContext): Float32Array {
  for (const [name, v] of [['sigma min', ctx.sigmaMin], ['sigma max', ctx.sigmaMax], ['rho', ctx.rho]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new InputError(`${name} must be a number >= 0, got ${v}.`)
  }
  // A1111: 0 means "the model's own"
  const sigmaMin = ctx.sigmaMin || ctx.schedule.sigmaMin
  const sigmaMax = ctx.sigmaMax || ctx.schedule.sigmaMax
  if (!(sigmaMin < sigmaMax)) throw new InputError(`sigma min (${sigmaMin}) must be below sigma max (${sigmaMax}).`)
  const entry: SchedulerEntry = SCHEDULERS[scheduler]
  return entry.sigmas!({ ...ctx, sigmaMin, sigmaMax, rho: ctx.rho || undefined })
}
