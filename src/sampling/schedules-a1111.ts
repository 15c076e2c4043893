/*
 * The schedule types A1111 1.10 added in modules/sd_schedulers.py (KL Optimal, Align Your Steps, Normal, DDIM, Beta),
 * each a sigma schedule (descending) over a model's discrete schedule. Values as A1111 returns them (float32), checked
 * against ../shared/reference/sd1/samplers2/schedules.safetensors.
 */
import { InputError } from '../core/errors.ts'
import { incompleteBetaInverse } from './beta-quantile.ts'
import type { ModelSchedule } from './schedules.ts'
import { sigmaToT, tToSigma } from './schedules.ts'
import { fr, torchLinspace } from './torch-f32.ts'

const checkSteps = (n: number): void => {
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`steps must be a whole number >= 1, got ${n}.`)
}
const withZero = (values: readonly number[]): Float32Array => Float32Array.from([...values, 0])

/**
 * KL Optimal (Sabour et al. 2024, "Align Your Steps", eq. 14): tan of a linear ramp between atan(σ_max) and
 * atan(σ_min), n + 1 values and NO trailing 0 (the last step ends at σ_min), float32 as torch computes it.
 */
export function getSigmasKlOptimal(n: number, sigmaMin: number, sigmaMax: number): Float32Array {
  checkSteps(n)
  const aMin = fr(Math.atan(fr(sigmaMin)))
  const aMax = fr(Math.atan(fr(sigmaMax)))
  return Float32Array.from({ length: n + 1 }, (_, i) => {
    const r = fr(i / n)
    return Math.tan(fr(fr(r * aMin) + fr(fr(1 - r) * aMax)))
  })
}

/** Align Your Steps' published 10-step schedules (A1111 sd_schedulers.py, from NVIDIA's AYS tables). */
export const AYS_TABLES = {
  sd1: [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029],
  sdxl: [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029],
} as const

/** numpy.interp of ascending xs. */
function interp(x: number, xs: readonly number[], ys: readonly number[]): number {
  if (x <= xs[0]) return ys[0]
  for (let k = 1; k < xs.length; k++) {
    if (x <= xs[k]) return ys[k - 1] + ((x - xs[k - 1]) * (ys[k] - ys[k - 1])) / (xs[k] - xs[k - 1])
  }
  return ys[ys.length - 1]
}

const npLinspace = (n: number): number[] => Array.from({ length: n }, (_, i) => (n === 1 ? 0 : i / (n - 1)))

/** Align Your Steps: the table as is for n = 11, else interpolated log-linearly to n points (float64), then 0. */
export function getSigmasAlignYourSteps(n: number, table: readonly number[]): Float32Array {
  checkSteps(n)
  if (n === table.length) return withZero(table)
  const ys = table.map(Math.log).reverse()
  const xs = npLinspace(table.length)
  return withZero(npLinspace(n).map((x) => Math.exp(interp(x, xs, ys))).reverse())
}

/** A1111 "Normal": t = linspace(t(σ_max), t(σ_min), n) through the model's t ↔ σ map, then 0. */
export function getSigmasNormal(schedule: ModelSchedule, n: number): Float32Array {
  checkSteps(n)
  const t = torchLinspace(sigmaToT(schedule, schedule.sigmaMax), sigmaToT(schedule, schedule.sigmaMin), n)
  return withZero(Array.from(t, (ti) => tToSigma(schedule, ti)))
}

/** A1111 "DDIM": model sigmas at 1, 1 + s, 1 + 2s, … (< 1000), s = 1000 // n, descending, then 0 (may give > n steps). */
export function getSigmasDdim(schedule: ModelSchedule, n: number): Float32Array {
  checkSteps(n)
  const s = schedule.sigmas
  const stride = Math.max(Math.floor(s.length / n), 1)
  const picked: number[] = []
  for (let x = 1; x < s.length; x += stride) picked.push(s[x])
  return withZero(picked.reverse())
}

/** A1111 "Beta" (Lee et al. 2024): σ_min + (σ_max − σ_min) · ppf(1 − i/(n−1)) of Beta(α, β), float64, then 0. */
export function getSigmasBeta(n: number, sigmaMin: number, sigmaMax: number, alpha = 0.6, beta = 0.6): Float32Array {
  checkSteps(n)
  const ramp = n === 1 ? [1] : npLinspace(n).map((x) => 1 - x)
  return withZero(ramp.map((p) => sigmaMin + incompleteBetaInverse(p, alpha, beta) * (sigmaMax - sigmaMin)))
}
