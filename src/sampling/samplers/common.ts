/** Shared types and float32 helpers of the k-diffusion-style samplers (glossary in ../index.ts). */
import { InputError } from '../../core/errors.ts'
import type { Denoiser } from '../denoiser.ts'
import { fr } from '../torch-f32.ts'

export interface StepInfo {
  /** Step index, 0-based. */
  readonly i: number
  /** Total number of steps (sigmas.length - 1). */
  readonly steps: number
  readonly sigma: number
  readonly sigmaHat: number
  /** x at the start of the step and the model's denoised estimate (read-only views; copy to keep). */
  readonly x: Float32Array
  readonly denoised: Float32Array
}

/**
 * k-diffusion's noise sampler: standard-normal noise shaped like x for the step from sigma to sigmaNext. Ancestral
 * samplers get the images' own streams (A1111: ImageRng.next(), the arguments unused); the SDE samplers get A1111's
 * Brownian tree, whose increment depends on both sigmas.
 */
export type NoiseSampler = (sigma: number, sigmaNext: number) => Float32Array

export interface SamplerOptions {
  /**
   * The noise sampler. Euler a draws once per step with sigma_next > 0; Euler and Heun draw once per step and
   * discard it, as k-diffusion does, so later draws stay aligned with A1111.
   */
  readonly noise?: NoiseSampler
  /** Called once per step after the model call (progress, previews). */
  readonly callback?: (step: StepInfo) => void
  /** Checked before every step; an aborted run throws the signal's reason and leaves nothing half-written. */
  readonly signal?: AbortSignal
  /** Ancestral samplers: eta (1 = full ancestral noise, 0 = deterministic). */
  readonly eta?: number
  /** Ancestral samplers: noise scale s_noise. */
  readonly sNoise?: number
  /** Karras churn (Euler, Heun, DPM2): s_churn, applied where s_tmin <= sigma <= s_tmax. A1111 defaults 0, 0, inf. */
  readonly sChurn?: number
  readonly sTmin?: number
  readonly sTmax?: number
  /**
   * DPM fast / DPM adaptive: the σ range to integrate over (A1111 txt2img: the model's smallest and largest sigma;
   * absent: the schedule's first and last positive sigma, as A1111's img2img passes them).
   */
  readonly sigmaRange?: { readonly sigmaMin: number; readonly sigmaMax: number }
}

/** A sampler: a short pure async function over a denoiser and a sigma schedule (descending, final 0). */
export type Sampler = (model: Denoiser, x: Float32Array, sigmas: Float32Array, opts?: SamplerOptions) => Promise<Float32Array>

/** d = (x − denoised) / σ, the ODE derivative dx/dσ (k-diffusion to_d). */
export function toD(x: Float32Array, sigma: number, denoised: Float32Array): Float32Array {
  const d = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) d[i] = fr(fr(x[i] - denoised[i]) / sigma)
  return d
}

/** x + d·dt in float32 (a fresh array). */
export function addScaled(x: Float32Array, d: Float32Array, dt: number): Float32Array {
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = fr(x[i] + fr(d[i] * dt))
  return out
}

export function drawNoise(opts: SamplerOptions | undefined, length: number, sampler: string, sigma = 0, sigmaNext = 0): Float32Array {
  if (!opts?.noise) throw new InputError(`${sampler} needs a noise source (options.noise). Hint: pass () => imageRng.next().`)
  const n = opts.noise(sigma, sigmaNext)
  if (n.length !== length) throw new InputError(`${sampler}: the noise source gave ${n.length} values for a latent of ${length}.`)
  return n
}

export function checkSigmas(sigmas: Float32Array, sampler: string): number {
  if (sigmas.length < 2) throw new InputError(`${sampler}: a schedule needs at least 2 sigmas (one step), got ${sigmas.length}.`)
  return sigmas.length - 1
}

/** k-diffusion t_fn / sigma_fn: the DPM-Solver time t = −log σ and back. */
export const tOfSigma = (sigma: number): number => -Math.log(sigma)
export const sigmaOfT = (t: number): number => Math.exp(-t)

/** out[k] = a·x[k] + b·y[k] (a fresh array; float32 storage). */
export function mix(a: number, x: Float32Array, b: number, y: Float32Array): Float32Array {
  const out = new Float32Array(x.length)
  for (let k = 0; k < x.length; k++) out[k] = a * x[k] + b * y[k]
  return out
}

/** x += scale · noise, in place (ancestral and SDE noise). */
export function addNoise(x: Float32Array, noise: Float32Array, scale: number): void {
  for (let k = 0; k < x.length; k++) x[k] += noise[k] * scale
}
