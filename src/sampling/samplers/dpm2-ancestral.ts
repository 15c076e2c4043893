/**
 * DPM2 a: DPM2's log-midpoint step down to σ_down, then ancestral noise of size σ_up (k-diffusion @ ab527a9
 * sampling.py sample_dpm_2_ancestral). Two model calls per step but the last; noise after
 * every step but the last.
 */
import { ancestralStep } from './euler-ancestral.ts'
import { addNoise, addScaled, checkSigmas, drawNoise, toD } from './common.ts'
import type { Sampler } from './common.ts'

export const sampleDpm2Ancestral: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'DPM2 a')
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const sigma = sigmas[i]
    const denoised = await model(x, sigma)
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmas[i + 1], opts?.eta ?? 1)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    const d = toD(x, sigma, denoised)
    if (sigmaDown === 0) x = addScaled(x, d, sigmaDown - sigma)
    else {
      const mid = Math.exp((Math.log(sigma) + Math.log(sigmaDown)) / 2)
      const x2 = addScaled(x, d, mid - sigma)
      x = addScaled(x, toD(x2, mid, await model(x2, mid)), sigmaDown - sigma)
      addNoise(x, drawNoise(opts, x.length, 'DPM2 a', sigma, sigmas[i + 1]), (opts?.sNoise ?? 1) * sigmaUp)
    }
  }
  return x
}
