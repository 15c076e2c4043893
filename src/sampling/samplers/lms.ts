/**
 * Linear multistep (Adams–Bashforth in σ, order 4): x_{i+1} = x_i + Σ_j c_j·d_{i−j}, where c_j integrates the
 * Lagrange basis polynomial of the last `order` sigmas over [σ_i, σ_{i+1}]. Port of k-diffusion @ ab527a9
 * sample_lms / linear_multistep_coeff; k-diffusion integrates with scipy quad, here the polynomial is integrated in
 * closed form (exact; quad's Gauss–Kronrod rule is exact for these cubics too).
 */
import { InputError } from '../../core/errors.ts'
import { checkSigmas, toD } from './common.ts'
import type { Sampler } from './common.ts'
import { fr } from '../torch-f32.ts'

/** ∫_{t[i]}^{t[i+1]} Π_{k≠j} (τ − t[i−k]) / (t[i−j] − t[i−k]) dτ, in float64 like the Python original. */
export function linearMultistepCoeff(order: number, t: ArrayLike<number>, i: number, j: number): number {
  if (order - 1 > i) throw new InputError(`LMS: order ${order} too high for step ${i}.`)
  let poly = [1] // coefficients, lowest degree first
  for (let k = 0; k < order; k++) {
    if (k === j) continue
    const denom = t[i - j] - t[i - k]
    const root = t[i - k]
    const next = new Array<number>(poly.length + 1).fill(0)
    poly.forEach((c, p) => {
      next[p + 1] += c / denom
      next[p] -= (c * root) / denom
    })
    poly = next
  }
  const antiderivative = (tau: number): number => poly.reduce((acc, c, p) => acc + (c * tau ** (p + 1)) / (p + 1), 0)
  return antiderivative(t[i + 1]) - antiderivative(t[i])
}

export function makeSampleLms(order = 4): Sampler {
  return async (model, x, sigmas, opts) => {
    const steps = checkSigmas(sigmas, 'LMS')
    const t = Array.from(sigmas)
    const ds: Float32Array[] = []
    for (let i = 0; i < steps; i++) {
      opts?.signal?.throwIfAborted()
      const sigma = sigmas[i]
      const denoised = await model(x, sigma)
      ds.push(toD(x, sigma, denoised))
      if (ds.length > order) ds.shift()
      opts?.callback?.({ i, steps, sigma, sigmaHat: sigma, x, denoised })
      const curOrder = Math.min(i + 1, order)
      const coeffs = Array.from({ length: curOrder }, (_, j) => fr(linearMultistepCoeff(curOrder, t, i, j)))
      const sum = new Float32Array(x.length)
      coeffs.forEach((c, j) => {
        const d = ds[ds.length - 1 - j]
        for (let k = 0; k < x.length; k++) sum[k] = fr(sum[k] + fr(c * d[k]))
      })
      const next = new Float32Array(x.length)
      for (let k = 0; k < x.length; k++) next[k] = fr(x[k] + sum[k])
      x = next
    }
    return x
  }
}

export const sampleLms: Sampler = makeSampleLms(4)
