import { test } from 'node:test'
import assert from 'node:assert/strict'
import { refTensors } from '../../../test/golden.ts'
import { SAMPLERS, resolveSampler, resolveSamplerId } from './index.ts'
import { ddimTimesteps, diffusersScaledLinearAlphasCumprod } from './ddim.ts'
import { linearMultistepCoeff } from './lms.ts'
import { sampleEuler } from './euler.ts'
import { sampleHeun } from './heun.ts'
import { sampleEulerAncestral } from './euler-ancestral.ts'
import { resolveScheduler } from '../schedulers.ts'
import { effectiveScheduler, img2imgSigmas } from '../run.ts'
import { getSigmasDiscrete, modelSchedule, scaledLinearAlphasCumprod } from '../schedules.ts'

test('sampler names: A1111 labels and aliases, ComfyUI names, case-insensitive', () => {
  const cases: [string, string][] = [
    ['Euler', 'euler'], ['Euler a', 'euler_ancestral'], ['k_euler_a', 'euler_ancestral'], ['euler_ancestral', 'euler_ancestral'],
    ['Heun', 'heun'], ['LMS', 'lms'], ['DPM++ 2M', 'dpmpp_2m'], ['dpmpp_2m', 'dpmpp_2m'], ['DPM++ 2M Karras', 'dpmpp_2m_karras'],
    ['DDIM', 'ddim'], ['ddim', 'ddim'], ['  euler A ', 'euler_ancestral'],
  ]
  for (const [name, id] of cases) assert.equal(resolveSamplerId(name), id, name)
  assert.equal(resolveSampler('Euler a'), SAMPLERS.euler_ancestral)
  assert.throws(() => resolveSampler('UniPC'), {
    name: 'InputError',
    message: 'unknown sampler "UniPC". Valid: "Euler", "Euler a", "Heun", "LMS", "DPM++ 2M", "DPM++ 2M Karras", "DDIM" (A1111), '
      + "or ComfyUI's euler, euler_ancestral, heun, lms, dpmpp_2m, ddim.",
  })
})

test('schedulers: names and the A1111 1.8 "Automatic" choice per sampler', () => {
  assert.equal(resolveScheduler('Karras'), 'karras')
  assert.equal(resolveScheduler('normal'), 'uniform')
  assert.equal(resolveScheduler('SGMUniform'), 'sgm_uniform')
  assert.equal(effectiveScheduler(SAMPLERS.dpmpp_2m_karras), 'karras')
  assert.equal(effectiveScheduler(SAMPLERS.dpmpp_2m), 'uniform')
  assert.equal(effectiveScheduler(SAMPLERS.euler, 'Exponential'), 'exponential')
  assert.throws(() => resolveScheduler('beta'), {
    name: 'InputError',
    message: 'unknown scheduler "beta". Valid: "automatic", "Automatic", "uniform", "Uniform", "normal", "discrete", "karras", '
      + '"Karras", "exponential", "Exponential", "polyexponential", "Polyexponential", "sgm_uniform", "SGM Uniform", '
      + '"SGMUniform", "simple", "Simple".',
  })
})

test('DDIM: leading timesteps with steps_offset 1 equal the goldens', async () => {
  const src = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  for (const size of ['64x64', 'h96w64']) {
    assert.deepEqual(Float32Array.from(ddimTimesteps(8)), await src.readF32(`sample.ddim.${size}.timesteps`))
  }
  const ours = diffusersScaledLinearAlphasCumprod()
  const ldm = scaledLinearAlphasCumprod()
  for (let i = 0; i < 1000; i++) assert.ok(Math.abs(ours[i] - ldm[i]) < 1e-6, `alphas_cumprod[${i}]`)
})

test('LMS coefficients: closed form equals a fine numerical integral of the Lagrange basis', () => {
  const t = Array.from(getSigmasDiscrete(modelSchedule(), 8))
  for (const [order, i] of [[1, 0], [2, 1], [3, 2], [4, 3], [4, 7]]) {
    for (let j = 0; j < order; j++) {
      const basis = (tau: number) => {
        let p = 1
        for (let k = 0; k < order; k++) if (k !== j) p *= (tau - t[i - k]) / (t[i - j] - t[i - k])
        return p
      }
      const n = 2000
      const h = (t[i + 1] - t[i]) / n
      let simpson = basis(t[i]) + basis(t[i + 1])
      for (let m = 1; m < n; m++) simpson += basis(t[i] + m * h) * (m % 2 ? 4 : 2)
      simpson *= h / 3
      const exact = linearMultistepCoeff(order, t, i, j)
      assert.ok(Math.abs(exact - simpson) <= 1e-9 * Math.max(1, Math.abs(exact)), `order ${order} i ${i} j ${j}`)
    }
  }
  assert.throws(() => linearMultistepCoeff(4, t, 2, 0), { name: 'InputError', message: 'LMS: order 4 too high for step 2.' })
})

test('noise draws per step as k-diffusion: Euler and Heun every step, Euler a when sigma_next > 0', async () => {
  const sigmas = getSigmasDiscrete(modelSchedule(), 5)
  const model = async (x: Float32Array) => x.map((v) => v / 2)
  for (const [sampler, draws] of [[sampleEuler, 5], [sampleHeun, 5], [sampleEulerAncestral, 4]] as const) {
    let n = 0
    await sampler(model, new Float32Array(4).fill(1), sigmas, { noise: () => { n++; return new Float32Array(4) } })
    assert.equal(n, draws)
  }
  await assert.rejects(sampleEulerAncestral(model, new Float32Array(4), sigmas), {
    name: 'InputError', message: 'Euler a needs a noise source (options.noise). Hint: pass () => imageRng.next().',
  })
})

test('img2img: A1111 runs t_enc + 1 steps, t_enc = int(min(strength, 0.999) · steps)', () => {
  const sigmas = getSigmasDiscrete(modelSchedule(), 20)
  assert.deepEqual(img2imgSigmas(sigmas, 0.75), sigmas.slice(4))
  assert.deepEqual(img2imgSigmas(sigmas, 1), sigmas)
  assert.throws(() => img2imgSigmas(sigmas, 0), { name: 'InputError', message: 'denoising strength must be in (0, 1], got 0.' })
})
