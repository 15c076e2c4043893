/*
 * The refiner as A1111 1.6+ runs it (modules/sd_samplers_common.py apply_refiner, called by CFGDenoiser.forward on
 * every denoiser call @ c8a5322d): at each call the noise level is turned into the nearest of the model's 1000
 * discrete timesteps (argmin |sigmas − σ|), completed = (999 − t) / 1000, and the first call with completed ≥
 * refiner_switch_at runs — and every later call — on the refiner: its own UNet and its own conditioning (setup_conds
 * on the refiner), the sampler's state and the prompt schedule's step counter carried on unchanged. A refiner that
 * is the base checkpoint itself is no switch (A1111 compares checkpoint infos), and the infotext fields "Refiner" /
 * "Refiner switch at" are written only when the switch happened.
 */
import { InputError } from '../core/errors.ts'
import { modelSchedule, tToSigma, type ModelFn } from '../sampling/index.ts'

export interface RefinerSwitch {
  /** refiner_switch_at in (0, 1]. */
  readonly switchAt: number
  /** The base model's alphas_cumprod (its discrete sigmas decide the switch). */
  readonly alphasCumprod?: Float32Array
  /** The refiner's model function, made at the switch; `firstStep` = denoiser calls made so far (the schedule's step). */
  readonly refiner: (firstStep: number) => Promise<ModelFn>
  /** Called once when the switch happens. */
  readonly onSwitch?: (call: number) => void
}

export function checkSwitchAt(v: number): number {
  if (!(v > 0 && v <= 1)) throw new InputError([{ code: 'range', path: ['refinerSwitchAt'], message: `refiner switch at must be in (0, 1], got ${v}` }])
  return v
}

/** A1111's completed_ratio at timestep t (continuous for k-diffusion samplers, integer for timestep samplers). */
export function completedRatio(sigmas: Float32Array, sigma: number): number {
  let best = 0
  for (let i = 1; i < sigmas.length; i++) if (Math.abs(sigmas[i] - sigma) < Math.abs(sigmas[best] - sigma)) best = i
  return (999 - best) / 1000
}

/** `base` until the switch, then the refiner for the rest of the run (one ModelFn per sampling run). */
export function switchingModel(base: ModelFn, s: RefinerSwitch): ModelFn {
  const schedule = modelSchedule(s.alphasCumprod)
  let calls = 0
  let refiner: ModelFn | undefined
  return async (xIn, t, batch) => {
    const call = calls++
    if (!refiner && completedRatio(schedule.sigmas, tToSigma(schedule, t)) >= s.switchAt) {
      refiner = await s.refiner(call)
      s.onSwitch?.(call)
    }
    return (refiner ?? base)(xIn, t, batch)
  }
}
