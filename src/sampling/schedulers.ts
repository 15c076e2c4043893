/*
 * Scheduler ("Schedule type") names as A1111 (1.9+ labels; 1.8 folds Karras into sampler names such as
 * "DPM++ 2M Karras") and ComfyUI spell them, and the sigmas each gives for a model schedule.
 */
import { InputError } from '../core/errors.ts'
import type { ModelSchedule } from './schedules.ts'
import {
  getSigmasDiscrete, getSigmasExponential, getSigmasKarras, getSigmasPolyexponential, getSigmasSgmUniform,
  getSigmasSimple,
} from './schedules.ts'

interface SchedulerEntry {
  /** A1111's label. */
  readonly label: string
  /** ComfyUI's name, where ComfyUI has it. */
  readonly comfy?: string
  readonly aliases?: readonly string[]
}

export const SCHEDULERS = {
  /** The sampler's own default (see SAMPLERS[...].defaultScheduler). */
  automatic: { label: 'Automatic' },
  /** k-diffusion get_sigmas: A1111 "Uniform" (what 1.8 uses for every sampler without "Karras" in its name). */
  uniform: { label: 'Uniform', comfy: 'normal', aliases: ['discrete'] },
  karras: { label: 'Karras', comfy: 'karras' },
  exponential: { label: 'Exponential', comfy: 'exponential' },
  polyexponential: { label: 'Polyexponential' },
  sgm_uniform: { label: 'SGM Uniform', comfy: 'sgm_uniform', aliases: ['SGMUniform'] },
  simple: { label: 'Simple', comfy: 'simple' },
} as const satisfies Record<string, SchedulerEntry>

export type SchedulerId = keyof typeof SCHEDULERS
export type ConcreteSchedulerId = Exclude<SchedulerId, 'automatic'>

const namesOf = (id: SchedulerId): string[] => {
  const e: SchedulerEntry = SCHEDULERS[id]
  return [id, e.label, ...(e.comfy ? [e.comfy] : []), ...(e.aliases ?? [])]
}

/** Scheduler id for an A1111 label, a ComfyUI name or an id (case-insensitive); InputError lists the valid names. */
export function resolveScheduler(name: string): SchedulerId {
  const key = name.trim().toLowerCase()
  const ids = Object.keys(SCHEDULERS) as SchedulerId[]
  const hit = ids.find((id) => namesOf(id).some((n) => n.toLowerCase() === key))
  if (hit) return hit
  const valid = [...new Set(ids.flatMap(namesOf))].map((n) => `"${n}"`).join(', ')
  throw new InputError(`unknown scheduler "${name}". Valid: ${valid}.`)
}

/** The n-step sigma schedule (n sigmas + a final 0) of a concrete scheduler over a model's schedule. */
export function sigmasFor(schedule: ModelSchedule, scheduler: ConcreteSchedulerId, steps: number): Float32Array {
  const { sigmaMin, sigmaMax } = schedule
  switch (scheduler) {
    case 'uniform': return getSigmasDiscrete(schedule, steps)
    case 'karras': return getSigmasKarras(steps, sigmaMin, sigmaMax, 7)
    case 'exponential': return getSigmasExponential(steps, sigmaMin, sigmaMax)
    case 'polyexponential': return getSigmasPolyexponential(steps, sigmaMin, sigmaMax, 1)
    case 'sgm_uniform': return getSigmasSgmUniform(schedule, steps)
    case 'simple': return getSigmasSimple(schedule, steps)
  }
}
