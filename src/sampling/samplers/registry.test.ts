import { test } from 'node:test'
import assert from 'node:assert/strict'
import { refTensors } from '../../../test/golden.ts'
import { SAMPLERS, resolveSampler, resolveSamplerChoice, resolveSamplerId } from './index.ts'
import type { SamplerId } from './index.ts'
import { ddimTimesteps, diffusersScaledLinearAlphasCumprod } from './ddim.ts'
import { linearMultistepCoeff } from './lms.ts'
import { sampleEuler } from './euler.ts'
import { sampleHeun } from './heun.ts'
import { sampleEulerAncestral } from './euler-ancestral.ts'
import { SCHEDULERS, resolveScheduler } from '../schedulers.ts'
import { effectiveScheduler, img2imgSigmas, resolveSamplerAndSchedule, scheduleTypeLabel } from '../run.ts'
import { getSigmasDiscrete, modelSchedule, scaledLinearAlphasCumprod } from '../schedules.ts'

test('sampler names: A1111 labels and aliases, ComfyUI names, case-insensitive; 1.8 names carry a schedule type', () => {
  const cases: [string, string][] = [
    ['Euler', 'euler'], ['Euler a', 'euler_ancestral'], ['k_euler_a', 'euler_ancestral'], ['euler_ancestral', 'euler_ancestral'],
    ['Heun', 'heun'], ['LMS', 'lms'], ['DPM++ 2M', 'dpmpp_2m'], ['dpmpp_2m', 'dpmpp_2m'], ['DPM++ 2M Karras', 'dpmpp_2m'],
    ['DDIM', 'ddim'], ['ddim', 'ddim'], ['  euler A ', 'euler_ancestral'], ['DPM2 a Karras', 'dpm2_ancestral'],
    ['dpm_2_ancestral', 'dpm2_ancestral'], ['DPM++ 2S a', 'dpmpp_2s_ancestral'], ['LCM', 'lcm'], ['PLMS', 'plms'],
    ['DDIM CFG++', 'ddim_cfgpp'], ['DPM++ 2M SDE', 'dpmpp_2m_sde'], ['DPM++ 2M SDE Heun', 'dpmpp_2m_sde_heun'],
    ['DPM++ SDE Karras', 'dpmpp_sde'], ['dpmpp_3m_sde', 'dpmpp_3m_sde'],
  ]
  for (const [name, id] of cases) assert.equal(resolveSamplerId(name), id, name)
  assert.deepEqual(resolveSamplerChoice('DPM++ 2M Karras'), { id: 'dpmpp_2m', scheduler: 'karras' })
  assert.deepEqual(resolveSamplerChoice('Euler a Exponential'), { id: 'euler_ancestral', scheduler: 'exponential' })
  assert.deepEqual(resolveSamplerChoice('DPM2'), { id: 'dpm2' })
  assert.deepEqual(resolveSamplerChoice('DPM++ 2M SDE Exponential'), { id: 'dpmpp_2m_sde', scheduler: 'exponential' })
  assert.deepEqual(resolveSamplerChoice('DPM++ 2M SDE Heun Karras'), { id: 'dpmpp_2m_sde_heun', scheduler: 'karras' })
  assert.equal(resolveSampler('Euler a'), SAMPLERS.euler_ancestral)
  assert.throws(() => resolveSampler('Foo Karras'), {
    name: 'InputError',
    message: `unknown sampler "Foo Karras". Valid: ${Object.values(SAMPLERS).map((e) => `"${e.label}"`).join(', ')} (A1111, `
      + 'optionally followed by a schedule type as in "DPM++ 2M Karras"), or ComfyUI\'s '
      + `${Object.values(SAMPLERS).flatMap((e) => (e.comfy ? [e.comfy] : [])).join(', ')}.`,
  })
})

test('schedulers: names, and the A1111 1.10 "Automatic" choice per sampler (README samplers2 facts)', () => {
  assert.equal(resolveScheduler('Karras'), 'karras')
  assert.equal(resolveScheduler('normal'), 'normal')
  assert.equal(resolveScheduler('SGMUniform'), 'sgm_uniform')
  assert.equal(resolveScheduler('Align Your Steps'), 'align_your_steps')
  const automatic: Record<string, string> = {
    dpmpp_2m: 'karras', dpmpp_2s_ancestral: 'karras', dpm2: 'karras', dpm2_ancestral: 'karras', dpmpp_sde: 'karras',
    dpmpp_2m_sde: 'exponential', dpmpp_2m_sde_heun: 'exponential', dpmpp_3m_sde: 'exponential', restart: 'karras',
    euler: 'uniform', euler_ancestral: 'uniform', lms: 'uniform', heun: 'uniform', lcm: 'uniform',
  }
  for (const [id, expected] of Object.entries(automatic)) assert.equal(effectiveScheduler(SAMPLERS[id as SamplerId]), expected, id)
  assert.equal(effectiveScheduler(SAMPLERS.euler, 'Exponential'), 'exponential')
  assert.equal(scheduleTypeLabel(SAMPLERS.dpmpp_2m), 'Karras')
  assert.equal(scheduleTypeLabel(SAMPLERS.euler), 'Automatic')
  assert.equal(scheduleTypeLabel(SAMPLERS.euler, 'karras'), 'Karras')
  assert.deepEqual(resolveSamplerAndSchedule('DPM++ 2M Karras').scheduler, 'karras')
  assert.throws(() => resolveSamplerAndSchedule('PLMS', 'Karras'), {
    name: 'InputError', message: 'PLMS runs on its own timesteps; schedule type "Karras" does not apply. Hint: use "Automatic".',
  })
  assert.throws(() => resolveScheduler('betta'), {
    name: 'InputError',
    message: `unknown scheduler "betta". Valid: ${Object.values(SCHEDULERS).map((e) => `"${e.label}"`).join(', ')} `
      + '(A1111 labels; ComfyUI names and ids also work).',
  })
})

test('registry facts as A1111 1.10 keeps them (second order, noise kind, discard, ENSD)', () => {
  const calls2 = Object.values(SAMPLERS).filter((e) => e.modelCallsPerStep === 2).map((e) => e.label)
  assert.deepEqual(calls2, ['DPM++ SDE', 'DPM++ 2S a', 'Heun', 'DPM2', 'DPM2 a', 'Restart'])
  assert.deepEqual(Object.values(SAMPLERS).filter((e) => e.discardPenultimateSigma).map((e) => e.label), ['DPM++ 3M SDE', 'DPM2', 'DPM2 a'])
  assert.deepEqual(Object.values(SAMPLERS).filter((e) => e.usesEnsd).map((e) => e.label), ['DPM++ 2S a', 'Euler a', 'DPM2 a', 'DPM fast', 'DPM adaptive'])
  assert.deepEqual(Object.values(SAMPLERS).filter((e) => e.noise === 'brownian').map((e) => e.label),
    ['DPM++ SDE', 'DPM++ 2M SDE', 'DPM++ 2M SDE Heun', 'DPM++ 3M SDE'])
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

test('infotext round trip: the Sampler and Schedule type A1111 1.10 writes resolve back to the same sampler and sigmas', async () => {
  const { formatInfotext, parseInfotext } = await import('../../image/infotext.ts')
  let checked = 0
  for (const entry of Object.values(SAMPLERS)) {
    for (const chosen of entry.kind === 'k-diffusion' ? ['Automatic', 'Karras', 'Beta'] : ['Automatic']) {
      const text = formatInfotext({ prompt: 'p', steps: 8, sampler: entry.label, scheduleType: scheduleTypeLabel(entry, chosen), cfgScale: 7, seed: 1, width: 64, height: 64 })
      const parsed = parseInfotext(text)
      const back = resolveSamplerAndSchedule(parsed.info.sampler!, parsed.info.scheduleType)
      assert.equal(back.entry, entry, text)
      assert.equal(effectiveScheduler(back.entry, back.scheduler), effectiveScheduler(entry, chosen), text)
      checked++
    }
  }
  const kd = Object.values(SAMPLERS).filter((e) => e.kind === 'k-diffusion').length
  assert.equal(checked, kd * 3 + Object.keys(SAMPLERS).length - kd)
  // A1111 1.8 infotexts carry the schedule in the sampler name
  const old = resolveSamplerAndSchedule(parseInfotext('p\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 8x4').info.sampler!)
  assert.deepEqual([old.entry.label, old.scheduler], ['DPM++ 2M', 'karras'])
})
