/**
 * The sampler registry: A1111 names (with their k_* aliases) and ComfyUI names for each sampler, its default
 * ("Automatic") scheduler as A1111 @ c8a5322d (1.8) picks it, and whether it is a k-diffusion sampler over a
 * Denoiser and sigmas or DDIM over integer timesteps.
 */
import { InputError } from '../../core/errors.ts'
import type { ConcreteSchedulerId } from '../schedulers.ts'
import type { Sampler } from './common.ts'
import { sampleDdim } from './ddim.ts'
import { sampleDpmpp2m } from './dpmpp-2m.ts'
import { sampleEuler } from './euler.ts'
import { sampleEulerAncestral } from './euler-ancestral.ts'
import { sampleHeun } from './heun.ts'
import { sampleLms } from './lms.ts'

interface Names {
  /** A1111's display name. */
  readonly label: string
  /** ComfyUI's KSampler name (absent where ComfyUI spells the sampler + scheduler separately). */
  readonly comfy?: string
  /** A1111's aliases (API / infotext). */
  readonly aliases: readonly string[]
}

export interface KDiffusionSampler extends Names {
  readonly kind: 'k-diffusion'
  readonly sample: Sampler
  readonly defaultScheduler: ConcreteSchedulerId
  /** Draws fresh noise each step (A1111 "uses_ensd"). */
  readonly ancestral: boolean
}

export interface DdimSampler extends Names {
  readonly kind: 'ddim'
  readonly sample: typeof sampleDdim
}

export type SamplerEntry = KDiffusionSampler | DdimSampler

const k = (label: string, comfy: string | undefined, aliases: string[], sample: Sampler,
  extra: Partial<Pick<KDiffusionSampler, 'defaultScheduler' | 'ancestral'>> = {}): KDiffusionSampler => ({
  kind: 'k-diffusion', label, comfy, aliases, sample, defaultScheduler: extra.defaultScheduler ?? 'uniform', ancestral: extra.ancestral ?? false,
})

export const SAMPLERS = {
  euler: k('Euler', 'euler', ['k_euler'], sampleEuler),
  euler_ancestral: k('Euler a', 'euler_ancestral', ['k_euler_a', 'k_euler_ancestral'], sampleEulerAncestral, { ancestral: true }),
  heun: k('Heun', 'heun', ['k_heun'], sampleHeun),
  lms: k('LMS', 'lms', ['k_lms'], sampleLms),
  dpmpp_2m: k('DPM++ 2M', 'dpmpp_2m', ['k_dpmpp_2m'], sampleDpmpp2m),
  dpmpp_2m_karras: k('DPM++ 2M Karras', undefined, ['k_dpmpp_2m_ka'], sampleDpmpp2m, { defaultScheduler: 'karras' }),
  ddim: { kind: 'ddim', label: 'DDIM', comfy: 'ddim', aliases: [], sample: sampleDdim } as DdimSampler,
} as const satisfies Record<string, SamplerEntry>

export type SamplerId = keyof typeof SAMPLERS

const namesOf = (id: SamplerId): string[] => {
  const e: SamplerEntry = SAMPLERS[id]
  return [e.label, ...(e.comfy ? [e.comfy] : []), id, ...e.aliases]
}

/** Sampler id for an A1111 name, alias or ComfyUI name (case-insensitive); InputError lists the valid names. */
export function resolveSamplerId(name: string): SamplerId {
  const key = name.trim().toLowerCase()
  const ids = Object.keys(SAMPLERS) as SamplerId[]
  const hit = ids.find((id) => namesOf(id).some((n) => n.toLowerCase() === key))
  if (hit) return hit
  const a1111 = ids.map((id) => `"${SAMPLERS[id].label}"`).join(', ')
  const comfy = ids.flatMap((id) => { const c: string | undefined = SAMPLERS[id].comfy; return c ? [c] : [] }).join(', ')
  throw new InputError(`unknown sampler "${name}". Valid: ${a1111} (A1111), or ComfyUI's ${comfy}.`)
}

export const resolveSampler = (name: string): SamplerEntry => SAMPLERS[resolveSamplerId(name)]
