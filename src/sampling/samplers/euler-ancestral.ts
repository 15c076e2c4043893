/**
 * Ancestral Euler ("Euler a"): an Euler step down to sigma_down, then fresh noise of size sigma_up, so the marginal
 * at sigma_next is right while the path forgets part of its past (Ho et al. 2020 ancestral sampling in
 * k-diffusion form). Port of k-diffusion @ ab527a9 sample_euler_ancestral; eta = 0 is exactly Euler.
 */
import { addScaled, checkSigmas, drawNoise, toD } from './common.ts'
import type { Sampler } from './common.ts'
import { fr } from '../torch-f32.ts'

/** k-diffusion get_ancestral_step: σ_up = min(σ_to, η·√(σ_to²(σ_from² − σ_to²)/σ_from²)), σ_down = √(σ_to² − σ_up²). */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta: number): { sigmaDown: number; sigmaUp: number } {
  if (!eta) return { sigmaDown: sigmaTo, sigmaUp: 0 }
  const from2 = fr(sigmaFrom * sigmaFrom)
  const to2 = fr(sigmaTo * sigmaTo)
  const up = fr(eta * fr(Math.sqrt(fr(fr(to2 * fr(from2 - to2)) / from2))))
  const sigmaUp = up < sigmaTo ? up : sigmaTo
  return { sigmaDown: fr(Math.sqrt(fr(to2 - fr(sigmaUp * sigmaUp)))), sigmaUp }
}

export const sampleEulerAncestral: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'Euler a')
  const eta = opts?.eta ?? 1
  const sNoise = opts?.sNoise ?? 1
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const sigma = sigmas[i]
    const denoised = await model(x, sigma)
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmas[i + 1], eta)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    x = addScaled(x, toD(x, sigma, denoised), fr(sigmaDown - sigma))
    if (sigmas[i + 1] > 0) {
      const noise = eta || opts?.noise ? drawNoise(opts, x.length, 'Euler a', sigma, sigmas[i + 1]) : undefined
      if (noise) for (let k = 0; k < x.length; k++) x[k] = fr(x[k] + fr(fr(noise[k] * sNoise) * sigmaUp))
    }
  }
  return x
}
