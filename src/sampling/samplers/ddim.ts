/**
 * DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12) as diffusers' DDIMScheduler (0.25)
 * computes it: "leading" timestep spacing with steps_offset 1 (1000 // n · k + 1, descending), set_alpha_to_one
 * False (the last step goes to ᾱ_0), guidance in the model's output space, float32 like torch. It works on x_t
 * (the noise is NOT scaled by σ_max) at integer timesteps, so it is not a k-diffusion sampler over a Denoiser.
 */
import { InputError } from '../../core/errors.ts'
import type { Parameterization } from '../denoiser.ts'
import { TRAIN_STEPS } from '../schedules.ts'
import { fr, torchLinspace } from '../torch-f32.ts'
import type { StepInfo } from './common.ts'

/** The guided network output (eps or v) for x_t [B, …] at integer timestep t (sigma = √((1 − ᾱ_t)/ᾱ_t)). */
export type TimestepModel = (x: Float32Array, t: number, sigma: number) => Promise<Float32Array>

/** diffusers "leading" spacing: (arange(n) · (1000 // n)) reversed + steps_offset. */
export function ddimTimesteps(steps: number, trainSteps = TRAIN_STEPS, stepsOffset = 1): number[] {
  if (!Number.isSafeInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new InputError(`DDIM steps must be a whole number in [1, ${trainSteps}], got ${steps}.`)
  }
  const ratio = Math.floor(trainSteps / steps)
  return Array.from({ length: steps }, (_, k) => (steps - 1 - k) * ratio + stepsOffset)
}

/**
 * diffusers' own scaled-linear ᾱ (DDIMScheduler with beta_schedule "scaled_linear"): betas = linspace(√β0, √β1)²
 * in float32, ᾱ = cumprod(1 − β) (torch's CPU cumprod accumulates float32 in double).
 */
export function diffusersScaledLinearAlphasCumprod(betaStart = 0.00085, betaEnd = 0.012, steps = TRAIN_STEPS): Float32Array {
  const roots = torchLinspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), steps, 'f32')
  const out = new Float32Array(steps)
  let acc = 1
  for (let i = 0; i < steps; i++) {
    acc *= fr(1 - fr(roots[i] * roots[i]))
    out[i] = acc
  }
  return out
}

export interface DdimOptions {
  readonly timesteps: readonly number[]
  readonly alphasCumprod: Float32Array
  readonly prediction: Parameterization
  /** 0 = deterministic DDIM (the default); > 0 adds noise from `noise`. */
  readonly eta?: number
  readonly noise?: () => Float32Array
  readonly callback?: (step: StepInfo) => void
  readonly signal?: AbortSignal
}

/** One diffusers DDIMScheduler.step for a whole batch: returns (x0 estimate, x_prev). */
function ddimStep(out: Float32Array, x: Float32Array, a: number, aPrev: number, opts: DdimOptions): { x0: Float32Array; prev: Float32Array } {
  const sa = fr(Math.sqrt(a))
  const sb = fr(Math.sqrt(fr(1 - a)))
  const variance = fr(fr(fr(1 - aPrev) / fr(1 - a)) * fr(1 - fr(a / aPrev)))
  const std = fr((opts.eta ?? 0) * fr(Math.sqrt(variance)))
  const dirScale = fr(Math.sqrt(fr(fr(1 - aPrev) - fr(std * std))))
  const saPrev = fr(Math.sqrt(aPrev))
  const noise = std > 0 ? opts.noise?.() : undefined
  if (std > 0 && (!noise || noise.length !== x.length)) throw new InputError('DDIM with eta > 0 needs a noise source shaped like the latent.')
  const x0 = new Float32Array(x.length)
  const prev = new Float32Array(x.length)
  for (let k = 0; k < x.length; k++) {
    let eps = out[k]
    if (opts.prediction === 'eps') x0[k] = fr(fr(x[k] - fr(sb * out[k])) / sa)
    else {
      x0[k] = fr(fr(sa * x[k]) - fr(sb * out[k]))
      eps = fr(fr(sa * out[k]) + fr(sb * x[k]))
    }
    prev[k] = fr(fr(saPrev * x0[k]) + fr(dirScale * eps))
    if (noise) prev[k] = fr(prev[k] + fr(std * noise[k]))
  }
  return { x0, prev }
}

export async function sampleDdim(model: TimestepModel, x: Float32Array, opts: DdimOptions): Promise<Float32Array> {
  const { timesteps, alphasCumprod: ac } = opts
  if (timesteps.length === 0) throw new InputError('DDIM needs at least one timestep.')
  const stride = Math.floor(ac.length / timesteps.length)
  for (let i = 0; i < timesteps.length; i++) {
    opts.signal?.throwIfAborted()
    const t = timesteps[i]
    const prevT = t - stride
    const a = ac[t]
    const aPrev = prevT >= 0 ? ac[prevT] : ac[0]
    const sigma = fr(Math.sqrt(fr(fr(1 - a) / a)))
    const out = await model(x, t, sigma)
    const { x0, prev } = ddimStep(out, x, a, aPrev, opts)
    opts.callback?.({ i, steps: timesteps.length, sigma, sigmaHat: sigma, x, denoised: x0 })
    x = prev
  }
  return x
}
