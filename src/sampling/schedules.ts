/*
 * Noise schedules, as k-diffusion @ ab527a9 (external.py DiscreteSchedule, sampling.py get_sigmas_*) computes them
 * in float32 torch: a model's 1000 discrete sigmas, the continuous timestep <-> sigma map through log-sigma
 * interpolation, and the sampling schedules (descending sigmas with a final 0) built on them.
 */
import { InputError } from '../core/errors.ts'
import { fr, torchLinspace } from './torch-f32.ts'

export const TRAIN_STEPS = 1000

/** A model's discrete schedule (k-diffusion DiscreteSchedule): sigmas ascending with the timestep index. */
export interface ModelSchedule {
  /** [1000] sigma_t = sqrt((1 - ᾱ_t) / ᾱ_t), float32, ascending. */
  readonly sigmas: Float32Array
  /** [1000] float32 log of each sigma. */
  readonly logSigmas: Float32Array
  /** The alphas_cumprod the sigmas came from (float32). */
  readonly alphasCumprod: Float32Array
  readonly sigmaMin: number
  readonly sigmaMax: number
}

/**
 * The scaled-linear DDPM schedule of SD 1.x/2.x/XL (beta 0.00085 -> 0.012 over 1000 steps), as ldm's
 * make_beta_schedule("linear") / sgm's LegacyDDPMDiscretization: betas = linspace(√0.00085, √0.012)² in float64,
 * ᾱ = cumprod(1 - β) in float64, stored as float32. Used when a checkpoint carries no `alphas_cumprod` buffer.
 */
export function scaledLinearAlphasCumprod(betaStart = 0.00085, betaEnd = 0.012, steps = TRAIN_STEPS): Float32Array {
  const roots = torchLinspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), steps, 'f64')
  const out = new Float32Array(steps)
  let acc = 1
  for (let i = 0; i < steps; i++) {
    acc *= 1 - roots[i] * roots[i]
    out[i] = acc
  }
  return out
}

/** k-diffusion DiscreteEpsDDPMDenoiser / DiscreteVDDPMDenoiser: sigmas = ((1 - ᾱ) / ᾱ) ** 0.5 in float32. */
export function modelSchedule(alphasCumprod: Float32Array = scaledLinearAlphasCumprod()): ModelSchedule {
  const n = alphasCumprod.length
  if (n < 2) throw new InputError(`alphas_cumprod has ${n} entries; a discrete schedule needs at least 2 (SD models have 1000).`)
  const sigmas = new Float32Array(n)
  const logSigmas = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const a = alphasCumprod[i]
    if (!(a > 0 && a < 1)) throw new InputError(`alphas_cumprod[${i}] = ${a} is outside (0, 1). Hint: the checkpoint's schedule buffer is damaged.`)
    sigmas[i] = Math.sqrt(fr(fr(1 - a) / a))
    logSigmas[i] = Math.log(sigmas[i])
  }
  return { sigmas, logSigmas, alphasCumprod: Float32Array.from(alphasCumprod), sigmaMin: sigmas[0], sigmaMax: sigmas[n - 1] }
}

/**
 * DiscreteSchedule.sigma_to_t (quantize=False): the fractional timestep whose interpolated log-sigma equals
 * log(sigma), clamped to [0, n - 1].
 */
export function sigmaToT(schedule: ModelSchedule, sigma: number): number {
  const ls = schedule.logSigmas
  const logSigma = fr(Math.log(fr(sigma)))
  // low = the last index whose log-sigma is <= log(sigma) (0 when none is), at most n - 2
  let low = 0
  for (let i = 0; i < ls.length; i++) if (fr(logSigma - ls[i]) >= 0) low = i
  low = Math.min(low, ls.length - 2)
  const lo = ls[low]
  const hi = ls[low + 1]
  const w = Math.min(1, Math.max(0, fr(fr(lo - logSigma) / fr(lo - hi))))
  return fr(fr(fr(1 - w) * low) + fr(w * (low + 1)))
}

/** DiscreteSchedule.t_to_sigma: exp of the log-sigma interpolated linearly at fractional timestep t. */
export function tToSigma(schedule: ModelSchedule, t: number): number {
  const tf = fr(t)
  const low = Math.floor(tf)
  const high = Math.ceil(tf)
  const w = fr(tf - Math.trunc(tf))
  const ls = schedule.logSigmas
  return fr(Math.exp(fr(fr(fr(1 - w) * ls[low]) + fr(w * ls[high]))))
}

const appendZero = (sigmas: ArrayLike<number>): Float32Array => {
  const out = new Float32Array(sigmas.length + 1)
  out.set(Array.from(sigmas))
  return out
}

const checkSteps = (n: number): void => {
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`steps must be a whole number >= 1, got ${n}.`)
}

/** k-diffusion `get_sigmas(n)`: t_to_sigma(linspace(n_train - 1, 0, n)) + [0] (A1111 "Uniform", ComfyUI "normal"). */
export function getSigmasDiscrete(schedule: ModelSchedule, n: number): Float32Array {
  checkSteps(n)
  const t = torchLinspace(schedule.sigmas.length - 1, 0, n)
  return appendZero(Array.from(t, (ti) => tToSigma(schedule, ti)))
}

/** Karras et al. (2022) eq. 5: rho-spaced sigmas between sigmaMax and sigmaMin, + [0] (k-diffusion get_sigmas_karras). */
export function getSigmasKarras(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float32Array {
  checkSteps(n)
  const ramp = torchLinspace(0, 1, n)
  const minInv = sigmaMin ** (1 / rho)
  const maxInv = sigmaMax ** (1 / rho)
  const span = fr(minInv - maxInv)
  return appendZero(Array.from(ramp, (r) => fr(fr(fr(maxInv) + fr(r * span)) ** rho)))
}

/** k-diffusion get_sigmas_exponential: sigmas evenly spaced in log space, + [0]. */
export function getSigmasExponential(n: number, sigmaMin: number, sigmaMax: number): Float32Array {
  checkSteps(n)
  return appendZero(Array.from(torchLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n), (x) => fr(Math.exp(x))))
}

/** k-diffusion get_sigmas_polyexponential: a ramp ** rho in log space (rho 1 = exponential), + [0]. */
export function getSigmasPolyexponential(n: number, sigmaMin: number, sigmaMax: number, rho = 1): Float32Array {
  checkSteps(n)
  const logMin = Math.log(sigmaMin)
  const span = fr(Math.log(sigmaMax) - logMin)
  return appendZero(Array.from(torchLinspace(1, 0, n), (r) => fr(Math.exp(fr(fr(fr(fr(r) ** rho) * span) + fr(logMin))))))
}

/** A1111 / ComfyUI "SGM Uniform": n timesteps evenly spaced from t(sigmaMax), excluding t(sigmaMin), + [0]. */
export function getSigmasSgmUniform(schedule: ModelSchedule, n: number): Float32Array {
  checkSteps(n)
  const start = sigmaToT(schedule, schedule.sigmaMax)
  const end = sigmaToT(schedule, schedule.sigmaMin)
  const t = torchLinspace(start, end, n + 1).subarray(0, n)
  return appendZero(Array.from(t, (ti) => tToSigma(schedule, ti)))
}

/** ComfyUI "simple": every (1000 / n)-th model sigma from the top, + [0]. */
export function getSigmasSimple(schedule: ModelSchedule, n: number): Float32Array {
  checkSteps(n)
  const s = schedule.sigmas
  const stride = s.length / n
  return appendZero(Array.from({ length: n }, (_, x) => s[s.length - 1 - Math.trunc(x * stride)]))
}
