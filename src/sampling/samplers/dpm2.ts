/**
 * DPM2: "a sampler inspired by DPM-Solver-2 and Algorithm 2 from Karras et al. (2022)": an Euler half-step to the
 * log-midpoint σ_mid = √(σ·σ_next), then the full step with the midpoint's slope; Euler into σ = 0. Port of
 * k-diffusion @ ab527a9 sampling.py sample_dpm_2 (churn as sample_euler). Two model calls per step but the last.
 */
import { addScaled, checkSigmas, toD } from './common.ts'
import type { Sampler } from './common.ts'
import { churn } from './churn.ts'

export const sampleDpm2: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'DPM2')
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const next = sigmas[i + 1]
    const hat = churn(x, sigmas, i, opts)
    x = hat.x
    const denoised = await model(x, hat.sigma)
    const d = toD(x, hat.sigma, denoised)
    opts?.callback?.({ i, steps, sigma: sigmas[i], sigmaHat: hat.sigma, x, denoised })
    if (next === 0) {
      x = addScaled(x, d, next - hat.sigma)
      continue
    }
    const mid = Math.exp((Math.log(hat.sigma) + Math.log(next)) / 2)
    const x2 = addScaled(x, d, mid - hat.sigma)
    x = addScaled(x, toD(x2, mid, await model(x2, mid)), next - hat.sigma)
  }
  return x
}
