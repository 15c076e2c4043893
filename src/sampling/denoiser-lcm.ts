/*
 * A1111 1.10's LCM denoiser (modules/sd_samplers_lcm.py LCMCompVisDenoiser): the eps denoiser over 50 of the 1000
 * training timesteps (t = 19, 39, …, 999, LCM's "original" schedule), whose UNet timestep is the nearest of them
 * and whose output goes through the consistency model's boundary conditions (Song et al. 2023, sigma_data 0.5,
 * time scaled by 10): D = c_skip·x + c_out·x0, c_skip = 0.25/((10t)² + 0.25), c_out = 10t/√((10t)² + 0.25).
 */
import type { DenoiserVariant } from './denoiser.ts'
import { modelSchedule, type ModelSchedule } from './schedules.ts'

const ORIGINAL_STEPS = 50

export interface LcmDenoising {
  /** The 50-entry schedule its sigmas (and Automatic's Uniform schedule) come from. */
  readonly schedule: ModelSchedule
  readonly variant: DenoiserVariant
}

export function lcmDenoising(alphasCumprod: Float32Array): LcmDenoising {
  const n = alphasCumprod.length
  const skip = Math.floor(n / ORIGINAL_STEPS)
  const valid = new Float32Array(ORIGINAL_STEPS)
  for (let x = 0; x < ORIGINAL_STEPS; x++) valid[ORIGINAL_STEPS - 1 - x] = alphasCumprod[n - 1 - x * skip]
  const schedule = modelSchedule(valid)
  const timestep = (sigma: number): number => {
    const ls = Math.log(sigma)
    let best = 0
    for (let i = 1; i < ORIGINAL_STEPS; i++) if (Math.abs(ls - schedule.logSigmas[i]) < Math.abs(ls - schedule.logSigmas[best])) best = i
    return best * skip + (skip - 1)
  }
  const outputScalings = (sigma: number) => {
    const st = timestep(sigma) * 10
    const denom = st * st + 0.25
    return { cSkip: 0.25 / denom, cOut: st / Math.sqrt(denom) }
  }
  return { schedule, variant: { timestep, outputScalings } }
}
