/**
 * Karras et al. (2022) Algorithm 2 "churn", shared by Euler, Heun and DPM2 as k-diffusion @ ab527a9 writes it:
 * γ = min(s_churn / steps, √2 − 1) where s_tmin <= σ <= s_tmax, σ̂ = σ(γ + 1), x += ε·s_noise·√(σ̂² − σ²). k-diffusion
 * draws ε every step, churn or not, so the images' noise streams stay aligned with A1111.
 */
import type { SamplerOptions } from './common.ts'

export function churn(x: Float32Array, sigmas: Float32Array, i: number, opts: SamplerOptions | undefined): { x: Float32Array; sigma: number } {
  const sigma = sigmas[i]
  const eps = opts?.noise?.(sigma, sigmas[i + 1])
  const sChurn = opts?.sChurn ?? 0
  const inRange = (opts?.sTmin ?? 0) <= sigma && sigma <= (opts?.sTmax ?? Infinity)
  const gamma = inRange ? Math.min(sChurn / (sigmas.length - 1), Math.SQRT2 - 1) : 0
  if (!(gamma > 0) || !eps) return { x, sigma }
  const hat = sigma * (gamma + 1)
  const scale = (opts?.sNoise ?? 1) * Math.sqrt(hat * hat - sigma * sigma)
  return { x: x.map((v, k) => v + eps[k] * scale), sigma: hat }
}
