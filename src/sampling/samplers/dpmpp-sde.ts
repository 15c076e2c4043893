/**
 * DPM++ SDE: DPM-Solver++ single-step second order (r = 1/2) of the SDE, each of the two sub-steps an ancestral
 * step with Brownian noise (Lu et al. 2022). Port of k-diffusion @ ab527a9 sampling.py sample_dpmpp_sde. Two model
 * calls per step but the last (Euler into σ = 0). The midpoint σ is computed in float32 as torch does: the Brownian
 * tree rounds query times to 6 decimals, so a 1-ulp difference would pick another tree node.
 */
import { ancestralStep } from './euler-ancestral.ts'
import { addNoise, addScaled, checkSigmas, drawNoise, mix, toD } from './common.ts'
import type { Sampler } from './common.ts'
import { fr } from '../torch-f32.ts'

const tFn = (sigma: number): number => fr(-fr(Math.log(sigma)))
const sigmaFn = (t: number): number => fr(Math.exp(fr(-t)))

export const sampleDpmppSde: Sampler = async (model, x, sigmas, opts) => {
  const steps = checkSigmas(sigmas, 'DPM++ SDE')
  const eta = opts?.eta ?? 1
  const sNoise = opts?.sNoise ?? 1
  for (let i = 0; i < steps; i++) {
    opts?.signal?.throwIfAborted()
    const [sigma, next] = [sigmas[i], sigmas[i + 1]]
    const denoised = await model(x, sigma)
    opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
    if (next === 0) {
      x = addScaled(x, toD(x, sigma, denoised), next - sigma)
      continue
    }
    const [t, tNext] = [tFn(sigma), tFn(next)]
    const sMid = sigmaFn(fr(t + fr(fr(tNext - t) * 0.5)))
    const first = ancestralStep(sigma, sMid, eta)
    const x2 = mix(first.sigmaDown / sigma, x, -Math.expm1(Math.log(first.sigmaDown) - Math.log(sigma)), denoised)
    addNoise(x2, drawNoise(opts, x.length, 'DPM++ SDE', sigma, sMid), sNoise * first.sigmaUp)
    const denoised2 = await model(x2, sMid)
    const second = ancestralStep(sigma, next, eta)
    // k-diffusion blends (1 − 1/(2r))·denoised + 1/(2r)·denoised_2; at r = 1/2 that is denoised_2
    x = mix(second.sigmaDown / sigma, x, -Math.expm1(Math.log(second.sigmaDown) - Math.log(sigma)), denoised2)
    addNoise(x, drawNoise(opts, x.length, 'DPM++ SDE', sigma, next), sNoise * second.sigmaUp)
  }
  return x
}
