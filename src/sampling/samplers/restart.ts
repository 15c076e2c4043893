/**
 * Restart sampling (Xu et al. 2023, "Restart Sampling for Improving Generative Processes"): Heun steps down a Karras
 * schedule; after the step that reaches the sigma nearest 0.1 it re-noises x back up to the sigma nearest 2 and
 * repeats that stretch in 9 Karras sub-steps. From 20 steps on the main schedule is recomputed so the total stays
 * `steps` (A1111's defaults: 9 restart steps once; from 36 steps steps // 4, twice). Port of A1111 1.10
 * modules/sd_samplers_extra.py restart_sampler. One image-generator draw per restart.
 */
import { getSigmasKarras } from '../schedules.ts'
import { addNoise, addScaled, checkSigmas, drawNoise, toD } from './common.ts'
import type { Sampler } from './common.ts'

const nearest = (sigmas: Float32Array, value: number): number => {
  let best = 0
  for (let i = 1; i < sigmas.length; i++) if (Math.abs(sigmas[i] - value) < Math.abs(sigmas[best] - value)) best = i
  return best
}

/** The (σ_from, σ_to) pairs Restart walks, restarts included. */
export function restartSteps(input: Float32Array): [number, number][] {
  const steps = input.length - 1
  let sigmas = input
  const plan: { at: number; subSteps: number; times: number } | undefined = steps >= 20
    ? { at: 0.1, subSteps: (steps >= 36 ? Math.floor(steps / 4) : 9) + 1, times: steps >= 36 ? 2 : 1 }
    : undefined
  if (plan) sigmas = getSigmasKarras(steps - (plan.subSteps - 1) * plan.times, input[input.length - 2], input[0])
  const restartAt = plan ? nearest(sigmas, plan.at) : -1
  const pairs: [number, number][] = []
  for (let i = 0; i < sigmas.length - 1; i++) {
    pairs.push([sigmas[i], sigmas[i + 1]])
    const maxIdx = plan ? nearest(sigmas, 2) : 0
    if (plan && i + 1 === restartAt && maxIdx < i + 1) {
      const sub = getSigmasKarras(plan.subSteps, sigmas[i + 1], sigmas[maxIdx]).subarray(0, -1)
      for (let t = 0; t < plan.times; t++) for (let k = 0; k < sub.length - 1; k++) pairs.push([sub[k], sub[k + 1]])
    }
  }
  return pairs
}

export const sampleRestart: Sampler = async (model, x, sigmas, opts) => {
  checkSigmas(sigmas, 'Restart')
  const pairs = restartSteps(sigmas)
  let last: number | undefined
  for (const [i, [from, to]] of pairs.entries()) {
    opts?.signal?.throwIfAborted()
    if (last !== undefined && last < from) {
      addNoise(x, drawNoise(opts, x.length, 'Restart', from, to), (opts?.sNoise ?? 1) * Math.sqrt(from * from - last * last))
    }
    const denoised = await model(x, from)
    const d = toD(x, from, denoised)
    opts?.callback?.({ i, steps: pairs.length, sigma: to, sigmaHat: from, x, denoised })
    if (to === 0) x = addScaled(x, d, to - from)
    else {
      const x2 = addScaled(x, d, to - from)
      const d2 = toD(x2, to, await model(x2, to))
      x = addScaled(x, d.map((v, k) => (v + d2[k]) / 2), to - from)
    }
    last = to
  }
  return x
}
