/*
 * One sampling run wired the way A1111 1.10 (sd_samplers_kdiffusion.py, sd_samplers_timesteps.py) wires it: the
 * sampler and schedule type from the request (1.8 names split), sigmas from the model's schedule through the
 * schedule type (Automatic → the sampler's default; discard-penultimate where the sampler asks), initial noise =
 * ImageRng.next() · σ_max, ancestral draws from the same ImageRng, CFG through CFGDenoiser; img2img starts part-way
 * down the schedule. Timestep samplers start from the raw noise; DDIM runs as diffusers' DDIMScheduler.
 */
import { InputError } from '../core/errors.ts'
import { cfgDenoiser, cfgModelOutput } from './cfg.ts'
import type { CfgSpec } from './cfg.ts'
import { cfgEpsModel } from './cfg-timestep.ts'
import { lcmDenoising } from './denoiser-lcm.ts'
import type { ModelFn, Parameterization } from './denoiser.ts'
import { brownianNoiseSampler } from './rng/brownian-tree.ts'
import type { ImageRng } from './rng/image-rng.ts'
import { modelSchedule } from './schedules.ts'
import { SCHEDULERS, resolveScheduler, sigmasFor } from './schedulers.ts'
import type { ConcreteSchedulerId, SchedulerId } from './schedulers.ts'
import type { StepInfo } from './samplers/common.ts'
import { ddimTimesteps, diffusersScaledLinearAlphasCumprod } from './samplers/ddim.ts'
import { SAMPLERS, resolveSamplerChoice } from './samplers/index.ts'
import type { ChurnParam, DdimSampler, KDiffusionSampler, SamplerEntry, TimestepSamplerEntry } from './samplers/index.ts'
import { a1111Timesteps } from './samplers/timestep.ts'
import { fr } from './torch-f32.ts'
import { blendLatent, maskedDenoiser, type LatentMask } from './inpaint-blend.ts'

export interface Img2ImgStart {
  /** The encoded (scaled) init latent [B, …]. */
  readonly latent: Float32Array
  /** A1111 "Denoising strength" in (0, 1]. */
  readonly strength: number
  /**
   * Run exactly this many steps (A1111's explicit-steps branch of setup_img2img_steps, as hires fix calls it): the
   * schedule is made for int(steps / min(strength, 0.999)) steps and its last `steps` are run.
   */
  readonly steps?: number
  /** Inpainting: blend the denoised latent with the init latent outside the mask at every call (inpaint-blend.ts). */
  readonly mask?: LatentMask
}

/** A1111's sampler parameters (Settings → Sampler parameters), each absent = A1111's default. */
export interface SamplerParams {
  /** Ancestral / SDE eta (default 1) or DDIM eta (default 0). */
  readonly eta?: number
  readonly sNoise?: number
  readonly sChurn?: number
  readonly sTmin?: number
  readonly sTmax?: number
  /** Schedule overrides (0 / absent: the model's own σ range, the schedule's own rho). */
  readonly sigmaMin?: number
  readonly sigmaMax?: number
  readonly rho?: number
  /** A1111 "NGMS" (s_min_uncond): skip the uncond pass on every second call once sigma < it (0: off). */
  readonly sMinUncond?: number
  /** A1111 1.10 "Skip Early CFG" (skip_early_cond): skip the uncond pass over this first fraction of calls (0: off). */
  readonly skipEarlyCond?: number
}

export interface SampleRequest extends SamplerParams {
  /** A registry entry or a name A1111 or ComfyUI uses ("Euler a", "euler_ancestral", "DPM++ 2M Karras", …). */
  readonly sampler: SamplerEntry | string
  /** A1111 "Schedule type" / ComfyUI scheduler; default "Automatic" (the sampler's own). */
  readonly scheduler?: string
  readonly steps: number
  readonly model: ModelFn
  readonly parameterization: Parameterization
  /** The model family (Align Your Steps picks its table by it). */
  readonly family?: string
  /** The checkpoint's `alphas_cumprod` buffer; default the scaled-linear schedule (SDXL files carry none). */
  readonly alphasCumprod?: Float32Array
  readonly cfg: CfgSpec
  /** Per-image noise streams: the initial noise is its first draw, ancestral noise the following ones. */
  readonly rng: ImageRng
  readonly img2img?: Img2ImgStart
  readonly callback?: (step: StepInfo) => void
  readonly signal?: AbortSignal
}

export interface SampleResult {
  /** The final latent [B, …] (still scaled: divide by the VAE scale factor before decoding). */
  readonly latent: Float32Array
  /** The scheduler actually used (timestep samplers: their own spacing). */
  readonly scheduler: ConcreteSchedulerId | 'timesteps'
  /** k-diffusion samplers: the sigmas sampled over (after any img2img cut). */
  readonly sigmas?: Float32Array
  /** Timestep samplers: the timesteps sampled over. */
  readonly timesteps?: readonly number[]
}

/** The sampler entry and schedule type a request names (a 1.8 suffix wins over an Automatic schedule type). */
export function resolveSamplerAndSchedule(sampler: SamplerEntry | string, scheduler = 'automatic'): { entry: SamplerEntry; scheduler: SchedulerId } {
  const chosen = resolveScheduler(scheduler)
  if (typeof sampler !== 'string') return { entry: sampler, scheduler: chosen }
  const choice = resolveSamplerChoice(sampler)
  const entry: SamplerEntry = SAMPLERS[choice.id]
  if (entry.kind !== 'k-diffusion' && chosen !== 'automatic') {
    throw new InputError(`${entry.label} runs on its own timesteps; schedule type "${scheduler}" does not apply. Hint: use "Automatic".`)
  }
  return { entry, scheduler: chosen === 'automatic' && choice.scheduler ? choice.scheduler : chosen }
}

/** The scheduler a sampler + "Schedule type" pair resolves to (A1111 1.10 "Automatic" → the sampler's default). */
export function effectiveScheduler(sampler: SamplerEntry, scheduler = 'automatic'): ConcreteSchedulerId {
  const id = resolveScheduler(scheduler)
  if (id !== 'automatic') return id
  return sampler.defaultScheduler === 'own' ? 'uniform' : sampler.defaultScheduler
}

/**
 * The infotext's "Schedule type" as A1111 1.10 writes it: the chosen label, except that a k-diffusion sampler whose
 * Automatic resolves to a schedule function writes that schedule's label (DPM++ 2M → "Karras"; Euler → "Automatic").
 */
export function scheduleTypeLabel(sampler: SamplerEntry, scheduler = 'automatic'): string {
  const id = resolveScheduler(scheduler)
  if (id !== 'automatic' || sampler.kind !== 'k-diffusion' || sampler.defaultScheduler === 'own') return SCHEDULERS[id].label
  return SCHEDULERS[sampler.defaultScheduler].label
}

/** A1111 setup_img2img_steps (img2img_fix_steps off): t_enc = int(min(strength, 0.999) · steps). */
export function img2imgSigmas(sigmas: Float32Array, strength: number, explicitSteps?: number): Float32Array {
  if (!(strength > 0 && strength <= 1)) throw new InputError(`denoising strength must be in (0, 1], got ${strength}.`)
  const steps = sigmas.length - 1
  const tEnc = explicitSteps !== undefined ? explicitSteps - 1 : Math.trunc(Math.min(strength, 0.999) * steps)
  return sigmas.slice(steps - tEnc - 1)
}

/** The schedule length A1111 builds for an img2img run (setup_img2img_steps; `explicitSteps` = hires steps). */
export const img2imgScheduleSteps = (steps: number, start: Img2ImgStart | undefined): number =>
  start?.steps !== undefined ? Math.trunc(start.steps / Math.min(start.strength, 0.999)) : steps

export async function sample(req: SampleRequest): Promise<SampleResult> {
  const { entry, scheduler } = resolveSamplerAndSchedule(req.sampler, req.scheduler)
  if (entry.kind === 'ddim') return runDdim(entry, req)
  if (entry.kind === 'timestep') return runTimestep(entry, req)
  return runKDiffusion(entry, effectiveScheduler(entry, scheduler), req)
}

/** A1111 KDiffusionSampler.get_sigmas: the schedule for steps (+ 1 and the penultimate dropped where asked). */
export function samplerSigmas(sampler: KDiffusionSampler, scheduler: ConcreteSchedulerId, req: Omit<SampleRequest, 'sampler' | 'model' | 'cfg' | 'rng'>): Float32Array {
  const schedule = sampler.denoiser === 'lcm'
    ? lcmDenoising(modelSchedule(req.alphasCumprod).alphasCumprod).schedule
    : modelSchedule(req.alphasCumprod)
  const discard = sampler.discardPenultimateSigma
  const sigmas = sigmasFor(scheduler, { ...req, schedule, steps: req.steps + (discard ? 1 : 0) })
  return discard ? Float32Array.from([...sigmas.subarray(0, -2), sigmas[sigmas.length - 1]]) : sigmas
}

/** The churn / noise-scale options A1111 passes to this sampler (sampler_extra_params); the rest do not apply. */
function churnParams(sampler: SamplerEntry, req: SamplerParams): Pick<SamplerParams, ChurnParam> {
  // A1111: s_tmax 0 means infinity (its default)
  return Object.fromEntries(sampler.params.flatMap((p) => (req[p] === undefined || (p === 'sTmax' && req[p] === 0) ? [] : [[p, req[p]]])))
}

/** CFG with A1111's uncond-skipping options; its call counter runs over steps × model calls per step. */
function withUncondSkip(req: SampleRequest, sampler: SamplerEntry): CfgSpec {
  const { sMinUncond = 0, skipEarlyCond = 0 } = req
  if (!sMinUncond && !skipEarlyCond) return req.cfg
  return { ...req.cfg, uncondSkip: { sMinUncond, skipEarlyCond, totalCalls: req.steps * sampler.modelCallsPerStep } }
}

async function runKDiffusion(sampler: KDiffusionSampler, scheduler: ConcreteSchedulerId, req: SampleRequest): Promise<SampleResult> {
  const schedule = modelSchedule(req.alphasCumprod)
  const full = samplerSigmas(sampler, scheduler, { ...req, steps: img2imgScheduleSteps(req.steps, req.img2img) })
  const sigmas = req.img2img ? img2imgSigmas(full, req.img2img.strength, req.img2img.steps) : full
  const noise = req.rng.next()
  const x = new Float32Array(noise.length)
  const init = req.img2img?.latent
  if (init && init.length !== noise.length) throw new InputError(`img2img latent has ${init.length} values, the noise ${noise.length}.`)
  for (let i = 0; i < x.length; i++) x[i] = init ? fr(init[i] + fr(noise[i] * sigmas[0])) : fr(noise[i] * sigmas[0])
  const variant = sampler.denoiser === 'lcm' ? lcmDenoising(schedule.alphasCumprod).variant : undefined
  const guided = cfgDenoiser({ model: req.model, schedule, parameterization: req.parameterization, cfg: withUncondSkip(req, sampler), variant })
  const mask = req.img2img?.mask
  const denoiser = mask ? maskedDenoiser(guided, mask) : guided
  const { seeds, shape, source } = req.rng
  const out = await sampler.sample(denoiser, x, sigmas, {
    noise: sampler.noise === 'brownian' ? brownianNoiseSampler({ sigmas, seeds, shape, source }) : () => req.rng.next(), callback: req.callback, signal: req.signal, eta: req.eta ?? sampler.eta ?? 1,
    ...churnParams(sampler, req),
    sigmaRange: req.img2img ? undefined : { sigmaMin: schedule.sigmaMin, sigmaMax: schedule.sigmaMax },
  })
  return { latent: mask ? blendLatent(out, mask) : out, scheduler, sigmas }
}

async function runTimestep(sampler: TimestepSamplerEntry, req: SampleRequest): Promise<SampleResult> {
  if (req.img2img) throw new InputError(`img2img with ${sampler.label} is not supported yet. Hint: use DDIM or a k-diffusion sampler such as Euler.`)
  const alphasCumprod = modelSchedule(req.alphasCumprod).alphasCumprod
  const timesteps = a1111Timesteps(req.steps, alphasCumprod.length)
  const model = cfgEpsModel({ model: req.model, cfg: withUncondSkip(req, sampler), alphasCumprod, parameterization: req.parameterization })
  const latent = await sampler.sample(model, req.rng.next(), {
    timesteps, alphasCumprod, eta: req.eta ?? sampler.eta ?? 0, noise: () => req.rng.next(), callback: req.callback, signal: req.signal,
  })
  return { latent, scheduler: 'timesteps', timesteps }
}

async function runDdim(sampler: DdimSampler, req: SampleRequest): Promise<SampleResult> {
  const alphasCumprod = req.alphasCumprod ?? diffusersScaledLinearAlphasCumprod()
  let timesteps = ddimTimesteps(req.steps, alphasCumprod.length)
  let x = req.rng.next()
  if (req.img2img?.mask || req.img2img?.steps !== undefined) {
    throw new InputError('DDIM does not run inpainting or hires-fix passes yet. Hint: pick a k-diffusion sampler such as "Euler a" or "DPM++ 2M".')
  }
  if (req.img2img) {
    // diffusers img2img: keep the last int(steps · strength) timesteps; noise the init latent to the first of them
    const keep = Math.min(Math.trunc(req.steps * req.img2img.strength), req.steps)
    if (keep < 1) throw new InputError(`denoising strength ${req.img2img.strength} leaves no DDIM step at ${req.steps} steps.`)
    timesteps = timesteps.slice(req.steps - keep)
    const a = alphasCumprod[timesteps[0]]
    const sa = fr(Math.sqrt(a))
    const sb = fr(Math.sqrt(fr(1 - a)))
    const init = req.img2img.latent
    x = x.map((n, i) => fr(fr(sa * init[i]) + fr(sb * n)))
  }
  const latent = await sampler.sample(cfgModelOutput(req.model, req.cfg), x, {
    timesteps, alphasCumprod, prediction: req.parameterization, eta: req.eta ?? 0,
    noise: () => req.rng.next(), callback: req.callback, signal: req.signal,
  })
  return { latent, scheduler: 'timesteps', timesteps }
}
