/*
 * The sampler conformance suite (style.md §2.5), run over every registry entry through `sample()`:
 * an analytic model whose data distribution is a single point (x0), so the ideal denoiser is exact and every
 * sampler must land on it (DDIM: on the point's ᾱ_0-noised image, as diffusers stops at t = 0); guidance and AND
 * weights move the point predictably; batches equal singles; abort and callbacks behave.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SAMPLERS } from './index.ts'
import type { SamplerId } from './index.ts'
import { sample } from '../run.ts'
import type { SampleRequest } from '../run.ts'
import type { ModelFn, Parameterization } from '../denoiser.ts'
import { ImageRng } from '../rng/image-rng.ts'
import { scaledLinearAlphasCumprod } from '../schedules.ts'
import { diffusersScaledLinearAlphasCumprod } from './ddim.ts'

const SHAPE = [4, 4, 4] as const
const PER = 64
const point = (phase: number): Float32Array => Float32Array.from({ length: PER }, (_, i) => Math.sin(i + phase))

/**
 * The exact model for data concentrated at one point per row kind: rows conditioned on part j predict the point
 * `conds[j]`, uncond rows `uncond`. x_t-scaled input xIn = x·c_in, so x = xIn·√(σ²+1) and eps = (x − x0)/σ.
 */
function pointModel(parameterization: Parameterization, points: { conds: Float32Array[]; uncond: Float32Array }): ModelFn {
  return async (xIn, _t, { rows, sigma }) => {
    const out = new Float32Array(xIn.length)
    const root = Math.sqrt(sigma * sigma + 1)
    rows.forEach((row, r) => {
      const x0 = row.kind === 'uncond' ? points.uncond : points.conds[row.part]
      for (let i = 0; i < PER; i++) {
        const k = r * PER + i
        const eps = (xIn[k] * root - x0[i]) / sigma
        // v = √ᾱ·eps − √(1−ᾱ)·x0 with √ᾱ = 1/root, √(1−ᾱ) = σ/root
        out[k] = parameterization === 'eps' ? eps : (eps - sigma * x0[i]) / root
      }
    })
    return out
  }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/** Where an exact model sends DDIM: diffusers stops at ᾱ_0 with the first step's noise direction. */
function ddimTarget(x0: Float32Array, noise: Float32Array, steps: number): Float32Array {
  const ac = diffusersScaledLinearAlphasCumprod()
  const aT = ac[(steps - 1) * Math.floor(1000 / steps) + 1]
  const a0 = ac[0]
  return x0.map((v, i) => {
    const eps = (noise[i] - Math.sqrt(aT) * v) / Math.sqrt(1 - aT)
    return Math.sqrt(a0) * v + Math.sqrt(1 - a0) * eps
  })
}

const request = (id: SamplerId, over: Partial<SampleRequest> & Pick<SampleRequest, 'model'>): SampleRequest => ({
  sampler: SAMPLERS[id], steps: 10, parameterization: 'eps', cfg: { scale: 1, weights: [[1]] },
  rng: new ImageRng({ shape: SHAPE, seeds: [7], source: 'cpu' }), alphasCumprod: scaledLinearAlphasCumprod(), ...over,
})

for (const id of Object.keys(SAMPLERS) as SamplerId[]) {
  test(`${id}: reaches the data point of an exact eps and v model`, async () => {
    const x0 = point(0)
    for (const parameterization of ['eps', 'v'] as const) {
      const model = pointModel(parameterization, { conds: [x0], uncond: x0 })
      const { latent } = await sample(request(id, { model, parameterization }))
      const noise = new ImageRng({ shape: SHAPE, seeds: [7], source: 'cpu' }).next()
      const target = SAMPLERS[id].kind === 'ddim' ? ddimTarget(x0, noise, 10) : x0
      assert.ok(maxDiff(latent, target) < 2e-4, `${parameterization}: ${maxDiff(latent, target)}`)
    }
  })

  test(`${id}: guidance reaches uncond + Σ w·scale·(cond_j − uncond) (AND prompts, CFG 7)`, async () => {
    const conds = [point(1), point(2)]
    const uncond = point(3)
    const weights = [0.75, 0.25]
    const guided = uncond.map((u, i) => u + 7 * (weights[0] * (conds[0][i] - u) + weights[1] * (conds[1][i] - u)))
    const { latent } = await sample(request(id, { model: pointModel('eps', { conds, uncond }), cfg: { scale: 7, weights: [weights] } }))
    const noise = new ImageRng({ shape: SHAPE, seeds: [7], source: 'cpu' }).next()
    const target = SAMPLERS[id].kind === 'ddim' ? ddimTarget(guided, noise, 10) : guided
    assert.ok(maxDiff(latent, target) < 2e-3, `${maxDiff(latent, target)}`)
  })

  test(`${id}: a batch of two equals two single runs (seed + i, own noise streams)`, async () => {
    const model = pointModel('eps', { conds: [point(1)], uncond: point(2) })
    const cfg = (b: number) => ({ scale: 5, weights: Array.from({ length: b }, () => [1]) })
    const batch = await sample(request(id, { model, cfg: cfg(2), rng: new ImageRng({ shape: SHAPE, seeds: [40, 41], source: 'nv' }) }))
    for (const [k, seed] of [40, 41].entries()) {
      const single = await sample(request(id, { model, cfg: cfg(1), rng: new ImageRng({ shape: SHAPE, seeds: [seed], source: 'nv' }) }))
      assert.deepEqual(batch.latent.subarray(k * PER, (k + 1) * PER), single.latent, `image ${k}`)
    }
  })

  test(`${id}: one callback per step; an aborted signal stops before the next step`, async () => {
    const model = pointModel('eps', { conds: [point(0)], uncond: point(0) })
    const seen: number[] = []
    const controller = new AbortController()
    const run = sample(request(id, {
      model, signal: controller.signal,
      callback: (s) => { seen.push(s.i); if (s.i === 2) controller.abort() },
    }))
    await assert.rejects(run, { name: 'AbortError' })
    assert.deepEqual(seen, [0, 1, 2])
    const all: number[] = []
    await sample(request(id, { model, callback: (s) => all.push(s.i) }))
    assert.deepEqual(all, [...Array(10).keys()])
  })
}

/*
 * Gaussian data x0 ~ N(μ, s²) per element: the ideal denoiser is D(x; σ) = (s²x + σ²μ)/(s² + σ²) and the
 * probability-flow ODE maps x_T at σ_T to μ + (x_T − μ)·√(s² + σ²)/√(s² + σ_T²) at σ, so deterministic samplers must
 * converge to that point with the order their method has; ancestral ones must produce samples distributed N(μ, s²).
 */
const G_SHAPE = [4, 32, 32]
const G_PER = 4096
const S = 0.5
const MU = Float32Array.from({ length: G_PER }, (_, i) => Math.sin(i))

const gaussianModel: ModelFn = async (xIn, _t, { sigma }) => {
  const out = new Float32Array(xIn.length)
  const root = Math.sqrt(sigma * sigma + 1)
  for (let k = 0; k < xIn.length; k++) {
    const x = xIn[k] * root
    const mu = MU[k % G_PER]
    out[k] = (x - (S * S * x + sigma * sigma * mu) / (S * S + sigma * sigma)) / sigma
  }
  return out
}

/** The exact ODE endpoint for the run's own start (k-diffusion: σ=0; DDIM: √ᾱ_0 · x̃ at σ_0). */
function odeTarget(res: { sigmas?: Float32Array; timesteps?: readonly number[] }, noise: Float32Array): Float32Array {
  const flow = (xT: number, mu: number, sT: number, s: number) => mu + (xT - mu) * Math.sqrt(S * S + s * s) / Math.sqrt(S * S + sT * sT)
  if (res.sigmas) return MU.map((mu, i) => flow(noise[i] * res.sigmas![0], mu, res.sigmas![0], 0))
  const ac = diffusersScaledLinearAlphasCumprod()
  const sigmaAt = (a: number) => Math.sqrt((1 - a) / a)
  const sT = sigmaAt(ac[res.timesteps![0]])
  return MU.map((mu, i) => Math.sqrt(ac[0]) * flow(noise[i] * Math.sqrt(1 + sT * sT), mu, sT, sigmaAt(ac[0])))
}

const gaussianRun = (id: SamplerId, steps: number, eta?: number) => sample({
  sampler: SAMPLERS[id], steps, parameterization: 'eps', cfg: { scale: 1, weights: [[1]] }, model: gaussianModel,
  rng: new ImageRng({ shape: G_SHAPE, seeds: [7], source: 'cpu' }), ...(eta === undefined ? {} : { eta }),
})

/** Max error at 50 steps against the exact ODE endpoint: first-order methods (and DPM++ 2M's final Euler step
 * from a coarse uniform grid) stay near 1e-1, second-order ones on fine low-σ grids reach 1e-3. */
const ODE_TOLERANCE_50: Partial<Record<SamplerId, number>> = {
  euler: 0.12, heun: 2e-3, lms: 2e-3, dpmpp_2m: 0.1, dpmpp_2m_karras: 2e-3, ddim: 0.1,
}

for (const [id, tol] of Object.entries(ODE_TOLERANCE_50) as [SamplerId, number][]) {
  test(`${id}: converges to the probability-flow ODE solution for Gaussian data`, async () => {
    const noise = new ImageRng({ shape: G_SHAPE, seeds: [7], source: 'cpu' }).next()
    const coarse = await gaussianRun(id, 10)
    const fine = await gaussianRun(id, 50)
    const errCoarse = maxDiff(coarse.latent, odeTarget(coarse, noise))
    const errFine = maxDiff(fine.latent, odeTarget(fine, noise))
    assert.ok(errFine <= tol, `50 steps: error ${errFine} > ${tol}`)
    assert.ok(errFine < errCoarse / 3, `error ${errCoarse} at 10 steps -> ${errFine} at 50 steps`)
  })
}

test('euler_ancestral: samples of Gaussian data come out N(μ, s²); eta = 0 is Euler bit for bit', async () => {
  const { latent } = await gaussianRun('euler_ancestral', 100)
  let mean = 0
  let sq = 0
  for (let i = 0; i < G_PER; i++) {
    const z = (latent[i] - MU[i]) / S
    mean += z / G_PER
    sq += (z * z) / G_PER
  }
  const std = Math.sqrt(sq - mean * mean)
  assert.ok(Math.abs(mean) < 0.05 && std > 0.9 && std < 1.05, `z mean ${mean}, std ${std}`)
  assert.deepEqual((await gaussianRun('euler_ancestral', 12, 0)).latent, (await gaussianRun('euler', 12)).latent)
})
