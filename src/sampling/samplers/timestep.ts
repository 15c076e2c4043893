/**
 * The "timestep sampler" kind (A1111 1.10 modules/sd_samplers_timesteps.py, CompVisSampler): samplers that work on
 * x_t in the model's own VP parameterisation at integer timesteps instead of on a Denoiser over sigmas (DDIM, DDIM
 * CFG++, PLMS). They start from the raw initial noise and the model gives them eps (CFG-combined).
 */
import type { StepInfo } from './common.ts'

/** The guided eps at timestep t for x_t [B, …], and the unconditional eps (DDIM CFG++ steers with it). */
export interface EpsOutput {
  readonly eps: Float32Array
  readonly uncond: Float32Array
}

/** The model as timestep samplers call it; `cfgScaleFactor` multiplies the CFG scale (CFG++: 1/12.5). */
export type EpsModel = (x: Float32Array, t: number, opts?: { readonly cfgScaleFactor?: number }) => Promise<EpsOutput>

export interface TimestepRun {
  /** Ascending model timesteps (A1111: range(0, 1000, 1000 // steps) + 1, clipped to 999). */
  readonly timesteps: readonly number[]
  readonly alphasCumprod: Float32Array
  /** DDIM eta (A1111 eta_ddim, default 0). */
  readonly eta?: number
  /** The images' own noise streams (DDIM draws one per step, even at eta 0). */
  readonly noise?: () => Float32Array
  readonly callback?: (step: StepInfo) => void
  readonly signal?: AbortSignal
}

export type TimestepSampler = (model: EpsModel, x: Float32Array, run: TimestepRun) => Promise<Float32Array>

/** A1111 CompVisSampler.get_timesteps: range(0, 1000, 1000 // steps) + 1, clipped to [0, 999] (may exceed steps). */
export function a1111Timesteps(steps: number, trainSteps = 1000): number[] {
  const stride = Math.max(Math.floor(trainSteps / steps), 1)
  const out: number[] = []
  for (let t = 0; t < trainSteps; t += stride) out.push(Math.min(t + 1, trainSteps - 1))
  return out
}

/** ᾱ of the step's timestep and of the one below it (A1111 pads the first with timesteps[0]). */
export function alphasAt(run: TimestepRun, index: number): { a: number; aPrev: number } {
  const ac = run.alphasCumprod
  return { a: ac[run.timesteps[index]], aPrev: ac[run.timesteps[Math.max(index - 1, 0)]] }
}

/** pred_x0 = (x − √(1−ᾱ)·eps)/√ᾱ and the DDIM update √ᾱ_prev·x0 + √(1−ᾱ_prev−σ_t²)·dir (+ σ_t·noise). */
export function ddimUpdate(x: Float32Array, eps: Float32Array, dir: Float32Array, a: number, aPrev: number, sigmaT = 0, noise?: Float32Array) {
  const sa = Math.sqrt(a)
  const sb = Math.sqrt(1 - a)
  const c = Math.sqrt(1 - aPrev - sigmaT * sigmaT)
  const saPrev = Math.sqrt(aPrev)
  const x0 = new Float32Array(x.length)
  const prev = new Float32Array(x.length)
  for (let k = 0; k < x.length; k++) {
    x0[k] = (x[k] - sb * eps[k]) / sa
    prev[k] = saPrev * x0[k] + c * dir[k] + (noise ? sigmaT * noise[k] : 0)
  }
  return { x0, prev }
}
