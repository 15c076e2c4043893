/**
 * DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
 * Models", Algorithm 2): a second-order multistep solver in t = −log σ that extrapolates the denoised estimate from
 * the previous step. Port of k-diffusion @ ab527a9 sample_dpmpp_2m. One model call per step.
 */
import { checkSigmas } from './common.ts'
import type { Sampler } from './common.ts'
import { fr } from '../torch-f32.ts'

const tOf = (sigma: number): number => fr(-fr(Math.log(sigma)))
const sigmaOf = (t: number): number => fr(Math.exp(fr(-t)))

export const sampleDpmpp2m: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'DPM++ 2M')
  let oldDenoised: Float32Array | undefined
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const sigma = sigmas[i]
    const denoised = await model(x, sigma)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    const t = tOf(sigma)
    const tNext = tOf(sigmas[i + 1])
    const h = fr(tNext - t)
    const ratio = fr(sigmaOf(tNext) / sigmaOf(t))
    const em1 = fr(Math.expm1(fr(-h)))
    let target = denoised
    if (oldDenoised && sigmas[i + 1] !== 0) {
      const r = fr(fr(t - tOf(sigmas[i - 1])) / h)
      const b = fr(1 / fr(2 * r))
      const a = fr(1 + b)
      target = new Float32Array(x.length)
      for (let k = 0; k < x.length; k++) target[k] = fr(fr(a * denoised[k]) - fr(b * oldDenoised[k]))
    }
    const next = new Float32Array(x.length)
    for (let k = 0; k < x.length; k++) next[k] = fr(fr(ratio * x[k]) - fr(em1 * target[k]))
    x = next
    oldDenoised = denoised
  }
  return x
}
