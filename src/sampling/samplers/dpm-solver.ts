/**
 * DPM-Solver's single-step updates of orders 1-3 in eps form over t = −log σ (Lu et al. 2022, "DPM-Solver: A Fast
 * ODE Solver for Diffusion Probabilistic Model Sampling", arXiv 2206.00927, algorithms 1 and 2), as k-diffusion
 * @ ab527a9 sampling.py class DPMSolver runs them for DPM fast and DPM adaptive. Scalars are float32 0-d tensors in
 * torch, so every scalar op rounds (fr); a Python float operand is rounded to float32 first.
 */
import { InputError } from '../../core/errors.ts'
import { fr } from '../torch-f32.ts'
import type { Denoiser } from '../denoiser.ts'
import { ancestralStep } from './euler-ancestral.ts'

export const tOf = (sigma: number): number => fr(-fr(Math.log(sigma)))
export const sigmaOf = (t: number): number => fr(Math.exp(fr(-t)))

/** eps(x, t) = (x − D(x; σ(t)))/σ(t), each at most once per step (k-diffusion's eps_cache keys). */
export interface EpsCache {
  readonly get: (key: 'eps' | 'r1' | 'r2', x: Float32Array, t: number) => Promise<Float32Array>
  /** D(x; σ(t)) of the step's first evaluation (what the progress callback shows). */
  denoised?: Float32Array
}

export function epsCache(model: Denoiser): EpsCache {
  const seen = new Map<string, Float32Array>()
  const cache: EpsCache = {
    get: async (key, x, t) => {
      const hit = seen.get(key)
      if (hit) return hit
      const sigma = sigmaOf(t)
      const denoised = await model(x, sigma)
      if (key === 'eps') cache.denoised = denoised
      const eps = new Float32Array(x.length)
      for (let k = 0; k < x.length; k++) eps[k] = fr(fr(x[k] - denoised[k]) / sigma)
      seen.set(key, eps)
      return eps
    },
  }
  return cache
}

/** out = x − a·e − b·(e2 − e) in float32 (b = 0 with e2 absent), the shape of every DPM-Solver update. */
function update(x: Float32Array, a: number, e: Float32Array, b = 0, e2?: Float32Array): Float32Array {
  const out = new Float32Array(x.length)
  for (let k = 0; k < x.length; k++) {
    const first = fr(x[k] - fr(a * e[k]))
    out[k] = e2 ? fr(first - fr(b * fr(e2[k] - e[k]))) : first
  }
  return out
}

/** DPM-Solver-1 (= DDIM): x − σ(t_next)·expm1(h)·eps. */
export async function dpmSolver1(cache: EpsCache, x: Float32Array, t: number, tNext: number): Promise<Float32Array> {
  const h = fr(tNext - t)
  return update(x, fr(sigmaOf(tNext) * fr(Math.expm1(h))), await cache.get('eps', x, t))
}

/** DPM-Solver-2 with intermediate point s1 = t + r1·h. */
export async function dpmSolver2(cache: EpsCache, x: Float32Array, t: number, tNext: number, r1 = 1 / 2): Promise<Float32Array> {
  const h = fr(tNext - t)
  const eps = await cache.get('eps', x, t)
  const rh = fr(fr(r1) * h)
  const s1 = fr(t + rh)
  const u1 = update(x, fr(sigmaOf(s1) * fr(Math.expm1(rh))), eps)
  const epsR1 = await cache.get('r1', u1, s1)
  const em1 = fr(Math.expm1(h))
  return update(x, fr(sigmaOf(tNext) * em1), eps, fr(fr(sigmaOf(tNext) / fr(2 * r1)) * em1), epsR1)
}

/** DPM-Solver-3 with intermediate points at t + h/3 and t + 2h/3. */
export async function dpmSolver3(cache: EpsCache, x: Float32Array, t: number, tNext: number): Promise<Float32Array> {
  const [r1, r2] = [1 / 3, 2 / 3]
  const h = fr(tNext - t)
  const eps = await cache.get('eps', x, t)
  const [rh1, rh2] = [fr(fr(r1) * h), fr(fr(r2) * h)]
  const [s1, s2] = [fr(t + rh1), fr(t + rh2)]
  const u1 = update(x, fr(sigmaOf(s1) * fr(Math.expm1(rh1))), eps)
  const epsR1 = await cache.get('r1', u1, s1)
  const em2 = fr(Math.expm1(rh2))
  const phi2 = fr(fr(em2 / rh2) - 1)
  const u2 = update(x, fr(sigmaOf(s2) * em2), eps, fr(fr(sigmaOf(s2) * fr(r2 / r1)) * phi2), epsR1)
  const epsR2 = await cache.get('r2', u2, s2)
  const em1 = fr(Math.expm1(h))
  return update(x, fr(sigmaOf(tNext) * em1), eps, fr(fr(sigmaOf(tNext) / fr(r2)) * fr(fr(em1 / h) - 1)), epsR2)
}

/**
 * The ancestral split of a step from t to tNext: the solver goes to t_ = min(tEnd, t(σ_down)) and noise of size
 * su = √(σ(tNext)² − σ(t_)²) restores the marginal (eta 0: t_ = tNext, su = 0).
 */
export function ancestralTarget(t: number, tNext: number, tEnd: number, eta: number): { tTo: number; su: number } {
  if (!eta) return { tTo: tNext, su: 0 }
  const { sigmaDown } = ancestralStep(sigmaOf(t), sigmaOf(tNext), eta)
  const tDown = tOf(sigmaDown)
  const tTo = tEnd < tDown ? tEnd : tDown
  const [a, b] = [sigmaOf(tNext), sigmaOf(tTo)]
  return { tTo, su: fr(Math.sqrt(fr(fr(a * a) - fr(b * b)))) }
}

/** x + su·s_noise·noise in float32 (k-diffusion adds it even when su is 0, after drawing). */
export function addAncestralNoise(x: Float32Array, noise: Float32Array, su: number, sNoise: number): Float32Array {
  const scale = fr(su * sNoise)
  const out = new Float32Array(x.length)
  for (let k = 0; k < x.length; k++) out[k] = fr(x[k] + fr(scale * noise[k]))
  return out
}

/** The σ range DPM fast / adaptive integrate over: σ_max = sigmas[0], σ_min = the last positive sigma. */
export function sigmaRange(sigmas: Float32Array, sampler: string): { sigmaMin: number; sigmaMax: number } {
  let sigmaMin = 0
  for (const s of sigmas) if (s > 0) sigmaMin = s
  if (!(sigmaMin > 0) || !(sigmas[0] > 0)) throw new InputError(`${sampler}: the schedule needs a positive first and last non-zero sigma, got ${sigmas[0]} … ${sigmaMin}.`)
  return { sigmaMin, sigmaMax: sigmas[0] }
}
