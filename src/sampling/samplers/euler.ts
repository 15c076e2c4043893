/**
 * Euler's method on the probability-flow ODE dx/dσ = (x − D(x; σ)) / σ (Karras et al. 2022, Algorithm 2 without
 * churn). Port of k-diffusion @ ab527a9 sampling.py sample_euler with s_churn = 0.
 */
import { addScaled, checkSigmas, toD } from './common.ts'
import type { Sampler } from './common.ts'
import { fr } from '../torch-f32.ts'

export const sampleEuler: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'Euler')
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    opts?.noise?.(sigmas[i], sigmas[i + 1]) // k-diffusion draws randn_like every step (used only with churn): keep the stream aligned
    const sigma = sigmas[i]
    const denoised = await model(x, sigma)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    x = addScaled(x, toD(x, sigma, denoised), fr(sigmas[i + 1] - sigma))
  }
  return x
}
