/**
 * DPM++ 3M SDE: the third-order multistep DPM-Solver++ of the SDE (Lu et al. 2022), extrapolating denoised from the
 * two previous steps (phi_2, phi_3 terms), with eta-scaled Brownian noise. Port of k-diffusion @ ab527a9 sampling.py
 * sample_dpmpp_3m_sde. One model call per step; the last step (to σ = 0) is x = denoised.
 */
import { addNoise, checkSigmas, drawNoise } from './common.ts'
import type { Sampler } from './common.ts'

export const sampleDpmpp3mSde: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'DPM++ 3M SDE')
  const eta = opts?.eta ?? 1
  let [d1, d2]: (Float32Array | undefined)[] = [undefined, undefined]
  let [h1, h2]: (number | undefined)[] = [undefined, undefined]
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const [sigma, next] = [sigmas[i], sigmas[i + 1]]
    const denoised = await model(x, sigma)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    let h: number | undefined
    if (next === 0) x = Float32Array.from(denoised)
    else {
      h = Math.log(sigma) - Math.log(next)
      const hEta = h * (eta + 1)
      const phi2 = Math.expm1(-hEta) / hEta + 1
      const phi3 = phi2 / hEta - 0.5
      const decay = Math.exp(-hEta)
      const keep = -Math.expm1(-hEta)
      const [p1, p2, r0, r1] = [d1, d2, h1 === undefined ? 0 : h1 / h, h2 === undefined ? 0 : h2 / h]
      x = x.map((v, k) => {
        let out = decay * v + keep * denoised[k]
        if (p1 && p2) {
          const a = (denoised[k] - p1[k]) / r0
          const b = (p1[k] - p2[k]) / r1
          out += phi2 * (a + ((a - b) * r0) / (r0 + r1)) - phi3 * ((a - b) / (r0 + r1))
        } else if (p1) out += phi2 * ((denoised[k] - p1[k]) / r0)
        return out
      })
      if (eta) addNoise(x, drawNoise(opts, x.length, 'DPM++ 3M SDE', sigma, next), next * Math.sqrt(-Math.expm1(-2 * h * eta)) * (opts?.sNoise ?? 1))
    }
    ;[d1, d2] = [denoised, d1]
    ;[h1, h2] = [h, h1]
  }
  return x
}
