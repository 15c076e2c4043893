/**
 * DPM fast: DPM-Solver-fast (Lu et al. 2022, arXiv 2206.00927, §3.4), a fixed budget of n model calls spent as
 * ⌊n/3⌋ + 1 steps uniform in t = −log σ from σ_max to σ_min, of order 3 but the last one or two (k-diffusion
 * @ ab527a9 sampling.py DPMSolver.dpm_solver_fast / sample_dpm_fast). A1111 runs it ancestrally (eta_ancestral 1):
 * each step solves down to σ_down and adds image-generator noise; a draw is taken even at eta 0. The run ends at
 * σ_min, not 0. One callback per solver step, with x at its start.
 */
import { torchLinspace } from '../torch-f32.ts'
import { checkSigmas, drawNoise } from './common.ts'
import type { Sampler } from './common.ts'
import { addAncestralNoise, ancestralTarget, dpmSolver1, dpmSolver2, dpmSolver3, epsCache, sigmaOf, sigmaRange, tOf } from './dpm-solver.ts'

/** Orders of the solver steps for a budget of n model calls: [3, …, 3, n mod 3] or [3, …, 3, 2, 1]. */
export function dpmFastOrders(n: number): number[] {
  const m = Math.floor(n / 3) + 1
  return n % 3 === 0 ? [...Array<number>(m - 2).fill(3), 2, 1] : [...Array<number>(m - 1).fill(3), n % 3]
}

const SOLVERS = [dpmSolver1, dpmSolver2, dpmSolver3] as const

export const sampleDpmFast: Sampler = async (model, x, sigmas, opts) => {
  const n = checkSigmas(sigmas, 'DPM fast')
  const { sigmaMin, sigmaMax } = opts?.sigmaRange ?? sigmaRange(sigmas, 'DPM fast')
  const [tStart, tEnd] = [tOf(sigmaMax), tOf(sigmaMin)]
  const orders = dpmFastOrders(n)
  const ts = torchLinspace(tStart, tEnd, orders.length + 1)
  const eta = opts?.eta ?? 1
  for (const [i, order] of orders.entries()) {
    opts?.signal?.throwIfAborted()
    const [t, tNext] = [ts[i], ts[i + 1]]
    const { tTo, su } = ancestralTarget(t, tNext, tEnd, eta)
    const cache = epsCache(model)
    await cache.get('eps', x, t)
    opts?.callback?.({ i, steps: orders.length, sigma: sigmaOf(t), sigmaHat: sigmaOf(t), x, denoised: cache.denoised! })
    x = await SOLVERS[order - 1](cache, x, t, tTo)
    x = addAncestralNoise(x, drawNoise(opts, x.length, 'DPM fast', sigmaOf(t), sigmaOf(tNext)), su, opts?.sNoise ?? 1)
  }
  return x
}
