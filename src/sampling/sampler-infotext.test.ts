import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatInfotext, parseInfotext } from '../image/infotext.ts'
import { SAMPLERS } from './samplers/index.ts'
import { samplerInfotext, samplerParamsFromInfotext } from './sampler-infotext.ts'
import { modelSchedule } from './schedules.ts'

const { sigmaMin, sigmaMax } = modelSchedule()

test('sampler settings are written as A1111 1.10 names them, only away from their defaults', () => {
  assert.deepEqual(samplerInfotext(SAMPLERS.euler_ancestral, 'Automatic', { eta: 1, sNoise: 1 }), {})
  assert.deepEqual(samplerInfotext(SAMPLERS.euler_ancestral, 'Automatic', { eta: 0.5 }), { Eta: 0.5 })
  // Euler a takes no s_noise in A1111 1.10 (sampler_extra_params), DPM2 a does
  assert.deepEqual(samplerInfotext(SAMPLERS.euler_ancestral, 'Automatic', { sNoise: 0.9 }), {})
  assert.deepEqual(samplerInfotext(SAMPLERS.dpm2_ancestral, 'Automatic', { sNoise: 0.9 }), { 'Sigma noise': 0.9 })
  assert.deepEqual(samplerInfotext(SAMPLERS.euler, 'Automatic', { sChurn: 0.4, sTmin: 0.1, sTmax: 0, sNoise: 1.003 }),
    { 'Sigma churn': 0.4, 'Sigma tmin': 0.1, 'Sigma noise': 1.003 })
  assert.deepEqual(samplerInfotext(SAMPLERS.euler, 'Automatic', { sTmax: 10 }), { 'Sigma tmax': 10 })
  assert.deepEqual(samplerInfotext(SAMPLERS.ddim_a1111, 'Automatic', { eta: 0.3 }), { 'Eta DDIM': 0.3 })
  assert.deepEqual(samplerInfotext(SAMPLERS.ddim_a1111, 'Automatic', { eta: 0 }), {})
  // schedule overrides: only for a schedule function, only when not the model's own / the schedule's default rho
  assert.deepEqual(samplerInfotext(SAMPLERS.dpmpp_2m, 'Automatic', { sigmaMin: 0.1, sigmaMax: sigmaMax, rho: 5 }),
    { 'Schedule min sigma': 0.1, 'Schedule rho': 5 })
  assert.deepEqual(samplerInfotext(SAMPLERS.dpmpp_2m, 'Exponential', { sigmaMin: sigmaMin, sigmaMax: 10, rho: 5 }), { 'Schedule max sigma': 10 })
  assert.deepEqual(samplerInfotext(SAMPLERS.dpmpp_2m, 'Karras', { rho: 7 }), {})
  assert.deepEqual(samplerInfotext(SAMPLERS.euler, 'Automatic', { sigmaMin: 0.1, rho: 5 }), {})
  assert.deepEqual(samplerInfotext(SAMPLERS.euler, 'Automatic', { skipEarlyCond: 0.2, sMinUncond: 1.5 }), { 'Skip Early CFG': 0.2, NGMS: 1.5 })
})

test('the fields read back from an infotext into the same sampler settings', () => {
  const params = { eta: 0.5, sChurn: 0.4, sTmin: 0.1, sTmax: 10, sNoise: 1.003, sigmaMin: 0.1, rho: 5, skipEarlyCond: 0.2, sMinUncond: 1.5 }
  for (const entry of [SAMPLERS.euler, SAMPLERS.dpmpp_2m, SAMPLERS.ddim_a1111]) {
    const samplerFields = samplerInfotext(entry, entry.kind === 'k-diffusion' ? 'Karras' : 'Automatic', params)
    const text = formatInfotext({ prompt: 'p', steps: 8, sampler: entry.label, cfgScale: 7, seed: 1, width: 64, height: 64, samplerFields, version: 'v' })
    assert.ok(text.endsWith(', Version: v'), text)
    const back = samplerParamsFromInfotext(parseInfotext(text).fields)
    for (const [k, v] of Object.entries(samplerFields)) assert.ok(Object.values(back).includes(v), `${k} ${text}`)
    assert.equal(Object.keys(back).length, Object.keys(samplerFields).length, text)
  }
  assert.deepEqual(samplerParamsFromInfotext({ 'Sigma tmax': 'inf', 'Eta DDIM': '0.25', Steps: '20' }), { sTmax: Infinity, eta: 0.25 })
})
