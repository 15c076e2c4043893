/*
 * One sampling run wired the way A1111 (sd_samplers_kdiffusion.py @ c8a5322d) wires it: sigmas from the model's
 * schedule and the (Automatic → sampler default) scheduler, initial noise = ImageRng.next() · σ_max, ancestral
 * and churn draws from the same ImageRng, CFG through CFGDenoiser; img2img starts part-way down the schedule.
 * DDIM runs as diffusers' DDIMScheduler instead (see samplers/ddim.ts).
 */
import { InputError } from '../core/errors.ts'
import { cfgDenoiser, cfgModelOutput } from './cfg.ts'
import type { CfgSpec } from './cfg.ts'
import type { ModelFn, Parameterization } from './denoiser.ts'
import type { ImageRng } from './rng/image-rng.ts'
import { modelSchedule } from './schedules.ts'
import type { ModelSchedule } from './schedules.ts'
import { resolveScheduler, sigmasFor } from './schedulers.ts'
import type { ConcreteSchedulerId } from './schedulers.ts'
import type { StepInfo } from './samplers/common.ts'
import { ddimTimesteps, diffusersScaledLinearAlphasCumprod } from './samplers/ddim.ts'
import { resolveSampler } from './samplers/index.ts'
import type { DdimSampler, KDiffusionSampler, SamplerEntry } from './samplers/index.ts'
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

export interface SampleRequest {
  /** A registry entry or a name A1111 or ComfyUI uses ("Euler a", "euler_ancestral", "DPM++ 2M Karras", …). */
  readonly sampler: SamplerEntry | string
  /** A1111 "Schedule type" / ComfyUI scheduler; default "Automatic" (the sampler's own). */
  readonly scheduler?: string
  readonly steps: number
  readonly model: ModelFn
  readonly parameterization: Parameterization
  /** The checkpoint's `alphas_cumprod` buffer; default the scaled-linear schedule (SDXL files carry none). */
  readonly alphasCumprod?: Float32Array
  readonly cfg: CfgSpec
  /** Per-image noise streams: the initial noise is its first draw, ancestral noise the following ones. */
  readonly rng: ImageRng
  readonly img2img?: Img2ImgStart
  /** Ancestral eta (A1111 default 1) or DDIM eta (default 0). */
  readonly eta?: number
  readonly callback?: (step: StepInfo) => void
  readonly signal?: AbortSignal
}

export interface SampleResult {
  /** The final latent [B, …] (still scaled: divide by the VAE scale factor before decoding). */
  readonly latent: Float32Array
  /** The scheduler actually used (DDIM: its own timestep spacing). */
  readonly scheduler: ConcreteSchedulerId | 'ddim-leading'
  /** k-diffusion samplers: the sigmas sampled over (after any img2img cut). */
  readonly sigmas?: Float32Array
  /** DDIM: the timesteps sampled over. */
  readonly timesteps?: readonly number[]
}

/** The scheduler a sampler + "Schedule type" pair resolves to (A1111 "Automatic" → the sampler's default). */
export function effectiveScheduler(sampler: KDiffusionSampler, scheduler = 'automatic'): ConcreteSchedulerId {
  const id = resolveScheduler(scheduler)
  return id === 'automatic' ? sampler.defaultScheduler : id
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
  const sampler = typeof req.sampler === 'string' ? resolveSampler(req.sampler) : req.sampler
  return sampler.kind === 'ddim' ? runDdim(sampler, req) : runKDiffusion(sampler, req)
}

async function runKDiffusion(sampler: KDiffusionSampler, req: SampleRequest): Promise<SampleResult> {
  const schedule: ModelSchedule = modelSchedule(req.alphasCumprod)
  const scheduler = effectiveScheduler(sampler, req.scheduler)
  const full = sigmasFor(schedule, scheduler, img2imgScheduleSteps(req.steps, req.img2img))
  const sigmas = req.img2img ? img2imgSigmas(full, req.img2img.strength, req.img2img.steps) : full
  const noise = req.rng.next()
  const x = new Float32Array(noise.length)
  const init = req.img2img?.latent
  if (init && init.length !== noise.length) throw new InputError(`img2img latent has ${init.length} values, the noise ${noise.length}.`)
  for (let i = 0; i < x.length; i++) x[i] = init ? fr(init[i] + fr(noise[i] * sigmas[0])) : fr(noise[i] * sigmas[0])
  const guided = cfgDenoiser({ model: req.model, schedule, parameterization: req.parameterization, cfg: req.cfg })
  const mask = req.img2img?.mask
  const denoiser = mask ? maskedDenoiser(guided, mask) : guided
  const out = await sampler.sample(denoiser, x, sigmas, {
    noise: () => req.rng.next(), callback: req.callback, signal: req.signal, eta: req.eta ?? 1,
  })
  return { latent: mask ? blendLatent(out, mask) : out, scheduler, sigmas }
}

async function runDdim(sampler: DdimSampler, req: SampleRequest): Promise<SampleResult> {
  const id = resolveScheduler(req.scheduler ?? 'automatic')
  if (id !== 'automatic') {
    throw new InputError(`DDIM runs on its own timestep spacing; scheduler "${req.scheduler}" does not apply. Hint: use "Automatic".`)
  }
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
  return { latent, scheduler: 'ddim-leading', timesteps }
}
