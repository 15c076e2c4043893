/**
 * DPM++ 2M SDE (Lu et al. 2022, "DPM-Solver++", the multistep second-order solver of the SDE with eta-scaled noise),
 * with the midpoint or Heun correction of the second-order term. Port of k-diffusion @ ab527a9 sampling.py
 * sample_dpmpp_2m_sde (A1111: "DPM++ 2M SDE" midpoint, "DPM++ 2M SDE Heun" heun). One model call per step; noise
 * from the Brownian-tree noise sampler; the last step (to σ = 0) is x = denoised.
 */
import { addNoise, checkSigmas, drawNoise } from './common.ts'
import type { Sampler } from './common.ts'

const dpmpp2mSde = (solver: 'midpoint' | 'heun', name: string): Sampler => async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, name)
  const eta = opts?.eta ?? 1
  let old: Float32Array | undefined
  let hLast = 0
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const [sigma, next] = [sigmas[i], sigmas[i + 1]]
    const denoised = await model(x, sigma)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    if (next === 0) {
      x = Float32Array.from(denoised)
      old = denoised
      continue
    }
    const h = Math.log(sigma) - Math.log(next)
    const etaH = eta * h
    const phi = -Math.expm1(-h - etaH)
    const decay = (next / sigma) * Math.exp(-etaH)
    const correction = old === undefined ? 0 : (solver === 'heun' ? phi / (-h - etaH) + 1 : 0.5 * phi) * (h / hLast)
    const prev = old
    x = x.map((v, k) => decay * v + phi * denoised[k] + (prev ? correction * (denoised[k] - prev[k]) : 0))
    if (eta) addNoise(x, drawNoise(opts, x.length, name, sigma, next), next * Math.sqrt(-Math.expm1(-2 * etaH)) * (opts?.sNoise ?? 1))
    old = denoised
    hLast = h
  }
  return x
}

export const sampleDpmpp2mSde = dpmpp2mSde('midpoint', 'DPM++ 2M SDE')
export const sampleDpmpp2mSdeHeun = dpmpp2mSde('heun', 'DPM++ 2M SDE Heun')
