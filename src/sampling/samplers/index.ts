/**
 * The sampler registry: A1111 1.10's sampler table (modules/sd_samplers_kdiffusion.py, sd_samplers_timesteps.py,
 * sd_samplers_lcm.py) with the per-sampler facts A1111 keeps (second order, noise kind, discard-penultimate-sigma,
 * ENSD use, the "Automatic" schedule), A1111 names with their k_* aliases and ComfyUI names. Callers ask the entry
 * (modelCallsPerStep, usesEnsd, …) instead of testing labels.
 */
import { InputError } from '../../core/errors.ts'
import { findScheduler } from '../schedulers.ts'
import type { ConcreteSchedulerId, SchedulerId } from '../schedulers.ts'
import type { Sampler } from './common.ts'
import { sampleDdim } from './ddim.ts'
import { sampleDdimA1111, sampleDdimCfgpp } from './ddim-a1111.ts'
import { sampleDpm2 } from './dpm2.ts'
import { sampleDpmAdaptive } from './dpm-adaptive.ts'
import { sampleDpmFast } from './dpm-fast.ts'
import { sampleDpm2Ancestral } from './dpm2-ancestral.ts'
import { sampleDpmpp2m } from './dpmpp-2m.ts'
import { sampleDpmpp2mSde, sampleDpmpp2mSdeHeun } from './dpmpp-2m-sde.ts'
import { sampleDpmpp2sAncestral } from './dpmpp-2s-ancestral.ts'
import { sampleDpmpp3mSde } from './dpmpp-3m-sde.ts'
import { sampleDpmppSde } from './dpmpp-sde.ts'
import { sampleEuler } from './euler.ts'
import { sampleEulerAncestral } from './euler-ancestral.ts'
import { sampleHeun } from './heun.ts'
import { sampleLcm } from './lcm.ts'
import { sampleLms } from './lms.ts'
import { samplePlms } from './plms.ts'
import { sampleRestart } from './restart.ts'
import type { TimestepSampler } from './timestep.ts'
import { sampleUniPc } from './unipc.ts'

/** What A1111 keeps per sampler (SamplerData options), named. */
export interface SamplerTraits {
  /** A1111's display name (also the infotext's "Sampler"). */
  readonly label: string
  /** ComfyUI's KSampler name, where ComfyUI has the sampler. */
  readonly comfy?: string
  /** A1111's aliases (API / infotext). */
  readonly aliases: readonly string[]
  /** A1111 `second_order`: model calls per step (prompt-editing schedules count calls). */
  readonly modelCallsPerStep: 1 | 2
  /** Fresh noise per step: none, the images' own streams (ancestral), or A1111's Brownian tree (SDE samplers). */
  readonly noise: 'none' | 'ancestral' | 'brownian'
  /** A1111 `discard_next_to_last_sigma`: the schedule is made for steps + 1 and its penultimate sigma dropped. */
  readonly discardPenultimateSigma: boolean
  /** A1111 `uses_ensd`: the infotext records "ENSD" for it. */
  readonly usesEnsd: boolean
  /** What "Automatic" means: a schedule type, or 'own' (the denoiser's discrete schedule; infotext "Automatic"). */
  readonly defaultScheduler: ConcreteSchedulerId | 'own'
  /** A1111 default eta where the sampler takes one (ancestral and SDE: eta_ancestral 1; DDIM: eta_ddim 0). */
  readonly eta?: number
  /**
   * Where the run ends: σ = 0 / the lowest timestep, or σ_min of the schedule (DPM fast / adaptive integrate from
   * σ_max to σ_min and stop there, as k-diffusion does; their result keeps σ_min's noise).
   */
  readonly endsAtSigmaMin: boolean
  /** The Settings → Sampler parameters A1111 passes to it (sampler_extra_params); others do not apply. */
  readonly params: readonly ChurnParam[]
}

/** Karras churn and noise scale, the options A1111 keeps per sampler function. */
export type ChurnParam = 'sChurn' | 'sTmin' | 'sTmax' | 'sNoise'
const CHURN: readonly ChurnParam[] = ['sChurn', 'sTmin', 'sTmax', 'sNoise']
const S_NOISE: readonly ChurnParam[] = ['sNoise']

export interface KDiffusionSampler extends SamplerTraits {
  readonly kind: 'k-diffusion'
  readonly sample: Sampler
  /** The denoiser it runs over: CompVis(V)Denoiser, or A1111's LCM denoiser. */
  readonly denoiser: 'compvis' | 'lcm'
}

/** Timestep samplers: their own timesteps, no schedule type (A1111 ignores it). */
export interface TimestepSamplerEntry extends SamplerTraits {
  readonly kind: 'timestep'
  readonly timesteps: 'a1111'
  /**
   * Where the run ends: at the lowest of its timesteps (DDIM, DDIM CFG++, PLMS), or at continuous time 1/1000, i.e.
   * ᾱ_0 (UniPC: only the number of timesteps is used).
   */
  readonly endsAt: 'lowest-timestep' | 'alpha-0'
  readonly sample: TimestepSampler
}

/** diffusers' DDIMScheduler (the round-1 DDIM goldens): leading spacing, guidance in the model's output space. */
export interface DdimSampler extends SamplerTraits {
  readonly kind: 'ddim'
  readonly sample: typeof sampleDdim
}

export type SamplerEntry = KDiffusionSampler | TimestepSamplerEntry | DdimSampler

interface Facts extends Partial<Omit<SamplerTraits, 'label' | 'comfy' | 'aliases'>> {
  readonly comfy?: string
  readonly aliases?: readonly string[]
}

const traits = (label: string, f: Facts): SamplerTraits => ({
  label, comfy: f.comfy, aliases: f.aliases ?? [], modelCallsPerStep: f.modelCallsPerStep ?? 1, noise: f.noise ?? 'none',
  discardPenultimateSigma: f.discardPenultimateSigma ?? false, usesEnsd: f.usesEnsd ?? f.noise === 'ancestral',
  defaultScheduler: f.defaultScheduler ?? 'own', ...(f.eta === undefined ? {} : { eta: f.eta }),
  endsAtSigmaMin: f.endsAtSigmaMin ?? false, params: f.params ?? [],
})
const k = (label: string, sample: Sampler, f: Facts & { denoiser?: 'lcm' } = {}): KDiffusionSampler =>
  ({ kind: 'k-diffusion', sample, denoiser: f.denoiser ?? 'compvis', ...traits(label, f) })
const ts = (label: string, sample: TimestepSampler, f: Facts & { endsAt?: 'alpha-0' } = {}): TimestepSamplerEntry =>
  ({ kind: 'timestep', timesteps: 'a1111', endsAt: f.endsAt ?? 'lowest-timestep', sample, ...traits(label, { eta: 0, ...f }) })

const ANCESTRAL = { noise: 'ancestral', eta: 1 } as const
const BROWNIAN = { noise: 'brownian', eta: 1 } as const
/** In A1111 1.10's order (its sampler dropdown). */
export const SAMPLERS = {
  dpmpp_2m: k('DPM++ 2M', sampleDpmpp2m, { comfy: 'dpmpp_2m', aliases: ['k_dpmpp_2m'], defaultScheduler: 'karras' }),
  dpmpp_sde: k('DPM++ SDE', sampleDpmppSde, {
    params: S_NOISE, comfy: 'dpmpp_sde', aliases: ['k_dpmpp_sde'], modelCallsPerStep: 2, defaultScheduler: 'karras', ...BROWNIAN,
  }),
  dpmpp_2m_sde: k('DPM++ 2M SDE', sampleDpmpp2mSde, { params: S_NOISE, comfy: 'dpmpp_2m_sde', aliases: ['k_dpmpp_2m_sde'], defaultScheduler: 'exponential', ...BROWNIAN }),
  dpmpp_2m_sde_heun: k('DPM++ 2M SDE Heun', sampleDpmpp2mSdeHeun, {
    params: S_NOISE, aliases: ['k_dpmpp_2m_sde_heun'], defaultScheduler: 'exponential', ...BROWNIAN,
  }),
  dpmpp_2s_ancestral: k('DPM++ 2S a', sampleDpmpp2sAncestral, {
    params: S_NOISE, comfy: 'dpmpp_2s_ancestral', aliases: ['k_dpmpp_2s_a'], modelCallsPerStep: 2, defaultScheduler: 'karras', ...ANCESTRAL,
  }),
  dpmpp_3m_sde: k('DPM++ 3M SDE', sampleDpmpp3mSde, {
    params: S_NOISE, comfy: 'dpmpp_3m_sde', aliases: ['k_dpmpp_3m_sde'], discardPenultimateSigma: true, defaultScheduler: 'exponential', ...BROWNIAN,
  }),
  euler_ancestral: k('Euler a', sampleEulerAncestral, { comfy: 'euler_ancestral', aliases: ['k_euler_a', 'k_euler_ancestral'], ...ANCESTRAL }),
  euler: k('Euler', sampleEuler, { params: CHURN, comfy: 'euler', aliases: ['k_euler'] }),
  lms: k('LMS', sampleLms, { comfy: 'lms', aliases: ['k_lms'] }),
  heun: k('Heun', sampleHeun, { params: CHURN, comfy: 'heun', aliases: ['k_heun'], modelCallsPerStep: 2 }),
  dpm2: k('DPM2', sampleDpm2, {
    params: CHURN, comfy: 'dpm_2', aliases: ['k_dpm_2'], modelCallsPerStep: 2, discardPenultimateSigma: true, defaultScheduler: 'karras',
  }),
  dpm2_ancestral: k('DPM2 a', sampleDpm2Ancestral, {
    params: S_NOISE, comfy: 'dpm_2_ancestral', aliases: ['k_dpm_2_a'], modelCallsPerStep: 2, discardPenultimateSigma: true,
    defaultScheduler: 'karras', ...ANCESTRAL,
  }),
  dpm_fast: k('DPM fast', sampleDpmFast, { params: S_NOISE, comfy: 'dpm_fast', aliases: ['k_dpm_fast'], endsAtSigmaMin: true, ...ANCESTRAL }),
  dpm_adaptive: k('DPM adaptive', sampleDpmAdaptive, { comfy: 'dpm_adaptive', aliases: ['k_dpm_ad'], endsAtSigmaMin: true, ...ANCESTRAL }),
  restart: k('Restart', sampleRestart, {
    aliases: ['restart'], modelCallsPerStep: 2, defaultScheduler: 'karras', noise: 'ancestral', usesEnsd: false,
  }),
  ddim: { kind: 'ddim', sample: sampleDdim, ...traits('DDIM', { comfy: 'ddim', eta: 0 }) } as DdimSampler,
  ddim_a1111: ts('DDIM (A1111)', sampleDdimA1111, { aliases: ['ddim_a1111'] }),
  ddim_cfgpp: ts('DDIM CFG++', sampleDdimCfgpp, { aliases: ['ddim_cfgpp'] }),
  plms: ts('PLMS', samplePlms, { aliases: [], eta: undefined }),
  unipc: ts('UniPC', sampleUniPc, { aliases: ['unipc'], eta: undefined, endsAt: 'alpha-0' }),
  lcm: k('LCM', sampleLcm, { comfy: 'lcm', aliases: ['k_lcm'], noise: 'ancestral', usesEnsd: false, denoiser: 'lcm' }),
} as const satisfies Record<string, SamplerEntry>

export type SamplerId = keyof typeof SAMPLERS

const namesOf = (id: SamplerId): string[] => {
  const e: SamplerEntry = SAMPLERS[id]
  return [e.label, ...(e.comfy ? [e.comfy] : []), id, ...e.aliases]
}

const findSampler = (name: string): SamplerId | undefined => {
  const key = name.trim().toLowerCase()
  return (Object.keys(SAMPLERS) as SamplerId[]).find((id) => namesOf(id).some((n) => n.toLowerCase() === key))
}

function unknownSampler(name: string): InputError {
  const ids = Object.keys(SAMPLERS) as SamplerId[]
  const a1111 = ids.map((id) => `"${SAMPLERS[id].label}"`).join(', ')
  const comfy = ids.flatMap((id) => { const c: string | undefined = SAMPLERS[id].comfy; return c ? [c] : [] }).join(', ')
  return new InputError(`unknown sampler "${name}". Valid: ${a1111} (A1111, optionally followed by a schedule type as in `
    + `"DPM++ 2M Karras"), or ComfyUI's ${comfy}.`)
}

/** The sampler and schedule a name means: A1111 1.8 names carry a schedule suffix ("DPM++ 2M Karras", "… Exponential"). */
export interface SamplerChoice {
  readonly id: SamplerId
  /** The schedule type the name carried, if any. */
  readonly scheduler?: SchedulerId
}

/**
 * A1111 1.10's split of a sampler name: an exact sampler name first, else a known sampler followed by a schedule
 * type label ("DPM++ 2M SDE Karras" = DPM++ 2M SDE + Karras). InputError lists the valid names.
 */
export function resolveSamplerChoice(name: string): SamplerChoice {
  const exact = findSampler(name)
  if (exact) return { id: exact }
  const words = name.trim().split(/\s+/)
  for (let cut = words.length - 1; cut > 0; cut--) {
    const id = findSampler(words.slice(0, cut).join(' '))
    const scheduler = findScheduler(words.slice(cut).join(' '))
    if (id && scheduler) return { id, scheduler }
  }
  throw unknownSampler(name)
}

/** Sampler id for an A1111 name, alias or ComfyUI name (case-insensitive; a schedule suffix is dropped). */
export const resolveSamplerId = (name: string): SamplerId => resolveSamplerChoice(name).id
export const resolveSampler = (name: string): SamplerEntry => SAMPLERS[resolveSamplerId(name)]
