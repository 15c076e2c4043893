/**
 * DDIM (Song et al. 2021, eq. 12) as A1111's own CompVisSampler runs it (modules/sd_samplers_timesteps_impl.py
 * ddim, 1.10), and DDIM CFG++ (Chung et al. 2024, "CFG++: Manifold-constrained Classifier Free Guidance"): the same
 * step, but the CFG scale is divided by 12.5 for pred_x0 and the direction term uses the UNCONDITIONAL eps.
 * Timesteps 876, …, 126 for 8 steps: steps − 1 model calls, ending at t = 1. A noise draw every step (eta 0 too).
 */
import { alphasAt, ddimUpdate } from './timestep.ts'
import type { TimestepSampler } from './timestep.ts'

const ddimFamily = (cfgpp: boolean): TimestepSampler => async (model, x, run) => {
  const steps = run.timesteps.length - 1
  const eta = run.eta ?? 0
  for (let i = 0; i < steps; i++) {
    run.signal?.throwIfAborted()
    const index = steps - i
    const { eps, uncond } = await model(x, run.timesteps[index], cfgpp ? { cfgScaleFactor: 1 / 12.5 } : undefined)
    const { a, aPrev } = alphasAt(run, index)
    const sigmaT = eta * Math.sqrt(((1 - aPrev) / (1 - a)) * (1 - a / aPrev))
    const noise = run.noise?.()
    const { x0, prev } = ddimUpdate(x, eps, cfgpp ? uncond : eps, a, aPrev, sigmaT, sigmaT > 0 ? noise : undefined)
    x = prev
    run.callback?.({ i, steps, sigma: 0, sigmaHat: 0, x, denoised: x0 })
  }
  return x
}

export const sampleDdimA1111 = ddimFamily(false)
export const sampleDdimCfgpp = ddimFamily(true)
