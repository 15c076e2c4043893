/**
 * Heun's second-order method (Karras et al. 2022, Algorithm 1 without churn): an Euler step, then the average of
 * the slopes at both ends; the last step (to σ = 0) is plain Euler. Port of k-diffusion @ ab527a9 sample_heun.
 * Two model calls per step except the last.
 */
import { addScaled, checkSigmas, toD } from './common.ts'
import type { Sampler } from './common.ts'
import { fr } from '../torch-f32.ts'

export const sampleHeun: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'Heun')
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    opts?.noise?.(sigmas[i], sigmas[i + 1]) // k-diffusion draws randn_like every step (used only with churn): keep the stream aligned
    const sigma = sigmas[i]
    const next = sigmas[i + 1]
    const denoised = await model(x, sigma)
    const d = toD(x, sigma, denoised)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    const dt = fr(next - sigma)
    if (next === 0) {
      x = addScaled(x, d, dt)
      continue
    }
    const x2 = addScaled(x, d, dt)
    const d2 = toD(x2, next, await model(x2, next))
    for (let k = 0; k < d.length; k++) d[k] = fr(fr(d[k] + d2[k]) / 2)
    x = addScaled(x, d, dt)
  }
  return x
}
