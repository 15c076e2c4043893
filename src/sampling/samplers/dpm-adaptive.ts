/**
 * DPM adaptive: DPM-Solver-23 with adaptive step size (Lu et al. 2022, arXiv 2206.00927, §4 and appendix C): each
 * step takes a second-order (r1 = 1/3) and a third-order solution sharing their model calls, and a PID controller on
 * their scaled difference accepts or rejects the step and proposes the next h (k-diffusion @ ab527a9 sampling.py
 * PIDStepSizeController, DPMSolver.dpm_solver_adaptive / sample_dpm_adaptive, with A1111's arguments: order 3,
 * rtol 0.05, atol 0.0078, h_init 0.05, pcoeff 0, icoeff 1, dcoeff 0, accept_safety 0.81, eta_ancestral 1). The
 * step count of the request is not used. One callback per attempted step, with x AFTER it (unchanged when
 * rejected); each accepted step draws ancestral noise. The run ends at σ_min, not 0.
 */
import { fr } from '../torch-f32.ts'
import { checkSigmas, drawNoise } from './common.ts'
import type { Sampler } from './common.ts'
import { addAncestralNoise, ancestralTarget, dpmSolver2, dpmSolver3, epsCache, sigmaOf, sigmaRange, tOf } from './dpm-solver.ts'

export interface PidOptions {
  readonly hInit: number
  readonly pcoeff: number
  readonly icoeff: number
  readonly dcoeff: number
  /** The error's order: the solver's (3), or 1.5 for ancestral runs (eta > 0). */
  readonly order: number
  readonly acceptSafety: number
}

/** k-diffusion's PID step size controller: h ← h·(1 + atan(f − 1)), f from the last three inverse errors. */
export function pidController(o: PidOptions): { readonly h: () => number; readonly propose: (error: number) => boolean } {
  const [b1, b2, b3] = [(o.pcoeff + o.icoeff + o.dcoeff) / o.order, -(o.pcoeff + 2 * o.dcoeff) / o.order, o.dcoeff / o.order]
  let h = o.hInit
  let errs: number[] = []
  return {
    h: () => h,
    propose: (error) => {
      const inv = 1 / (error + 1e-8)
      if (errs.length === 0) errs = [inv, inv, inv]
      errs[0] = inv
      const factor = 1 + Math.atan(errs[0] ** b1 * errs[1] ** b2 * errs[2] ** b3 - 1)
      const accept = factor >= o.acceptSafety
      if (accept) errs = [errs[0], errs[0], errs[1]]
      h *= factor
      return accept
    },
  }
}

const [RTOL, ATOL, H_INIT] = [fr(0.05), fr(0.0078), 0.05]

/** ‖(low − high)/max(atol, rtol·max(|low|, |prev|))‖₂ / √numel (torch.linalg.norm over the whole batch). */
function scaledError(low: Float32Array, high: Float32Array, prev: Float32Array): number {
  let sum = 0
  for (let k = 0; k < low.length; k++) {
    const delta = Math.max(ATOL, fr(RTOL * Math.max(Math.abs(low[k]), Math.abs(prev[k]))))
    const e = fr(fr(low[k] - high[k]) / delta)
    sum += e * e
  }
  return fr(fr(Math.sqrt(sum)) / fr(Math.sqrt(low.length)))
}

export const sampleDpmAdaptive: Sampler = async (model, x, sigmas, opts) => {
  checkSigmas(sigmas, 'DPM adaptive')
  const { sigmaMin, sigmaMax } = opts?.sigmaRange ?? sigmaRange(sigmas, 'DPM adaptive')
  const [tStart, tEnd] = [tOf(sigmaMax), tOf(sigmaMin)]
  const eta = opts?.eta ?? 1
  const pid = pidController({ hInit: H_INIT, pcoeff: 0, icoeff: 1, dcoeff: 0, order: eta ? 1.5 : 3, acceptSafety: 0.81 })
  let [s, xPrev] = [tStart, x]
  // the number of steps is not known ahead: progress reports the attempts so far against the request's step count
  const planned = sigmas.length - 1
  for (let i = 0; s < fr(tEnd - fr(1e-5)); i++) {
    opts?.signal?.throwIfAborted()
    const sh = fr(s + fr(pid.h()))
    const t = tEnd < sh ? tEnd : sh
    const { tTo, su } = ancestralTarget(s, t, tEnd, eta)
    const cache = epsCache(model)
    const low = await dpmSolver2(cache, x, s, tTo, 1 / 3)
    const high = await dpmSolver3(cache, x, s, tTo)
    if (pid.propose(scaledError(low, high, xPrev))) {
      xPrev = low
      x = addAncestralNoise(high, drawNoise(opts, x.length, 'DPM adaptive', sigmaOf(s), sigmaOf(t)), su, opts?.sNoise ?? 1)
      s = t
    }
    opts?.callback?.({ i, steps: Math.max(planned, i + 1), sigma: sigmaOf(s), sigmaHat: sigmaOf(s), x, denoised: cache.denoised! })
  }
  return x
}
