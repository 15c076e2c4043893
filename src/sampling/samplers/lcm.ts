/**
 * LCM (Luo et al. 2023, "Latent Consistency Models", Algorithm 1 multistep sampling): each step jumps to the
 * consistency model's x0 estimate and, unless the next σ is 0, re-noises it to σ_next with a fresh draw. Port of
 * A1111 1.10 modules/sd_samplers_lcm.py sample_lcm; its denoiser (timesteps and boundary scalings) is
 * ../denoiser-lcm.ts. One model call per step.
 */
import { addNoise, checkSigmas, drawNoise } from './common.ts'
import type { Sampler } from './common.ts'

export const sampleLcm: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'LCM')
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const sigma = sigmas[i]
    const denoised = await model(x, sigma)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    x = Float32Array.from(denoised)
    if (sigmas[i + 1] > 0) addNoise(x, drawNoise(opts, x.length, 'LCM', sigma, sigmas[i + 1]), sigmas[i + 1])
  }
  return x
}
