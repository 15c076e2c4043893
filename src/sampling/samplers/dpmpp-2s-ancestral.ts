/**
 * DPM++ 2S a: DPM-Solver++(2S) (Lu et al. 2022, Algorithm 1, single-step, r = 1/2) down to σ_down, then ancestral
 * noise σ_up where σ_next > 0. Port of k-diffusion @ ab527a9 sampling.py sample_dpmpp_2s_ancestral. Two model calls
 * per step but the last.
 */
import { ancestralStep } from './euler-ancestral.ts'
import { addNoise, addScaled, checkSigmas, drawNoise, mix, sigmaOfT, tOfSigma, toD } from './common.ts'
import type { Sampler } from './common.ts'

export const sampleDpmpp2sAncestral: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'DPM++ 2S a')
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const sigma = sigmas[i]
    const denoised = await model(x, sigma)
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, sigmas[i + 1], opts?.eta ?? 1)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    if (sigmaDown === 0) x = addScaled(x, toD(x, sigma, denoised), sigmaDown - sigma)
    else {
      const t = tOfSigma(sigma)
      const h = tOfSigma(sigmaDown) - t
      const s = t + h / 2
      const x2 = mix(sigmaOfT(s) / sigma, x, -Math.expm1(-h / 2), denoised)
      const denoised2 = await model(x2, sigmaOfT(s))
      x = mix(sigmaDown / sigma, x, -Math.expm1(-h), denoised2)
    }
    if (sigmas[i + 1] > 0) addNoise(x, drawNoise(opts, x.length, 'DPM++ 2S a', sigma, sigmas[i + 1]), (opts?.sNoise ?? 1) * sigmaUp)
  }
  return x
}
