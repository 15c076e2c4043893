/**
 * PLMS, pseudo linear multistep (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on Manifolds"):
 * DDIM's update with eps extrapolated Adams-Bashforth style from up to 3 earlier steps; the first step is pseudo
 * improved Euler (one extra model call). Port of A1111 1.10 modules/sd_samplers_timesteps_impl.py plms.
 */
import { alphasAt, ddimUpdate } from './timestep.ts'
import type { TimestepSampler } from './timestep.ts'

/** Adams-Bashforth weights over [eps_t, eps_{t-1}, …] by history length. */
const AB = [[1], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24]]

export const samplePlms: TimestepSampler = async (model, x, run) => {
  const steps = run.timesteps.length - 1
  const old: Float32Array[] = []
  for (let i = 0; i < steps; i++) {
    run.signal?.throwIfAborted()
    const index = steps - i
    const { a, aPrev } = alphasAt(run, index)
    const { eps } = await model(x, run.timesteps[index])
    let prime: Float32Array
    if (old.length === 0) {
      const first = ddimUpdate(x, eps, eps, a, aPrev).prev
      const next = (await model(first, run.timesteps[Math.max(index - 1, 0)])).eps
      prime = eps.map((e, k) => (e + next[k]) / 2)
    } else {
      const w = AB[old.length]
      prime = eps.map((e, k) => w[0] * e + old.reduce((acc, o, j) => acc + w[j + 1] * o[k], 0))
    }
    const { x0, prev } = ddimUpdate(x, prime, prime, a, aPrev)
    old.unshift(eps)
    if (old.length > 3) old.pop()
    x = prev
    run.callback?.({ i, steps, sigma: 0, sigmaHat: 0, x, denoised: x0 })
  }
  return x
}
