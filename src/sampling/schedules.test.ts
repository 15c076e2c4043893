import { test } from 'node:test'
import assert from 'node:assert/strict'
import { maxAbsDiff as maxDiff, readRefJson, refTensors } from '../../test/golden.ts'
import { SCHEDULERS, resolveScheduler, sigmasFor } from './schedulers.ts'
import type { ConcreteSchedulerId } from './schedulers.ts'
import { samplerSigmas } from './run.ts'
import { SAMPLERS } from './samplers/index.ts'
import {
  getSigmasDiscrete, getSigmasExponential, getSigmasKarras, getSigmasPolyexponential, getSigmasSgmUniform,
  getSigmasSimple, modelSchedule, scaledLinearAlphasCumprod, sigmaToT, tToSigma,
} from './schedules.ts'
import { torchLinspace } from './torch-f32.ts'

const FAMILIES = [['sd1', 'sd1_goldens.safetensors'], ['sd2', 'sd2_goldens.safetensors'], ['sdxl', 'sdxl_goldens.safetensors']] as const
const open = (family: string, file: string) => refTensors(family, 'goldens', file)


test('the scaled-linear default equals every golden alphas_cumprod and model sigmas bit for bit', async () => {
  const ac = scaledLinearAlphasCumprod()
  for (const [family, file] of FAMILIES) {
    const src = await open(family, file)
    assert.deepEqual(ac, await src.readF32('sample.alphas_cumprod'), family)
    assert.deepEqual(modelSchedule(ac).sigmas, await src.readF32('sample.model_sigmas'), family)
  }
})

test('every sample.*.sigmas (sd1, sd2, sdxl): discrete get_sigmas and Karras, within 1e-6', async () => {
  let checked = 0
  for (const [family, file] of FAMILIES) {
    const src = await open(family, file)
    const schedule = modelSchedule(await src.readF32('sample.alphas_cumprod'))
    for (const key of src.keys().filter((k) => k.startsWith('sample.') && k.endsWith('.sigmas'))) {
      const expected = await src.readF32(key)
      const steps = expected.length - 1
      const got = key.includes('karras')
        ? getSigmasKarras(steps, schedule.sigmaMin, schedule.sigmaMax)
        : getSigmasDiscrete(schedule, steps)
      assert.ok(maxDiff(got, expected) <= 1e-6, `${family} ${key}: ${maxDiff(got, expected)}`)
      checked++
    }
  }
  assert.equal(checked, 16)
})

test('sigma_to_t inverts t_to_sigma (fractional t) and hits model sigmas at integer t', () => {
  const s = modelSchedule()
  for (const t of [0, 1, 261.37, 500, 876, 998.5, 999]) {
    assert.ok(Math.abs(sigmaToT(s, tToSigma(s, t)) - t) < 2e-3, `t ${t}`)
  }
  for (const t of [0, 1, 500, 999]) assert.equal(sigmaToT(s, s.sigmas[t]), t)
  assert.equal(sigmaToT(s, s.sigmaMin / 2), 0)
  assert.equal(sigmaToT(s, s.sigmaMax * 2), 999)
})

test('schedule shapes: n sigmas + a final 0, descending, between the model extremes', () => {
  const s = modelSchedule()
  const all = {
    karras: getSigmasKarras(20, s.sigmaMin, s.sigmaMax),
    exponential: getSigmasExponential(20, s.sigmaMin, s.sigmaMax),
    polyexponential: getSigmasPolyexponential(20, s.sigmaMin, s.sigmaMax),
    discrete: getSigmasDiscrete(s, 20),
    sgmUniform: getSigmasSgmUniform(s, 20),
    simple: getSigmasSimple(s, 20),
  }
  for (const [name, sig] of Object.entries(all)) {
    assert.equal(sig.length, 21, name)
    assert.equal(sig[20], 0, name)
    for (let i = 1; i < 20; i++) assert.ok(sig[i] < sig[i - 1], `${name} descending at ${i}`)
    assert.ok(Math.abs(sig[0] - s.sigmaMax) < 1e-5 * s.sigmaMax, `${name} starts at sigma max`)
  }
  for (const name of ['karras', 'exponential', 'polyexponential', 'discrete'] as const) {
    assert.ok(Math.abs(all[name][19] - s.sigmaMin) < 1e-5, `${name} ends at sigma min`)
  }
  assert.ok(maxDiff(all.polyexponential, all.exponential) < 1e-5, 'polyexponential with rho 1 is exponential')
  assert.throws(() => getSigmasDiscrete(s, 0), { name: 'InputError', message: 'steps must be a whole number >= 1, got 0.' })
})

test('torch.linspace: exact ends, symmetric halves, vectorised blocks', () => {
  assert.deepEqual([...torchLinspace(999, 0, 8)].slice(-1), [0])
  assert.deepEqual([...torchLinspace(0, 1, 1)], [0])
  const t = torchLinspace(999, 0, 40)
  assert.equal(t[0], 999)
  assert.ok(Math.abs(t[39]) < 1e-3)
})

interface ScheduleGolden { key: string; label: string; steps: number; length: number }

test('every A1111 1.10 schedule type equals sd1/samplers2/schedules (relative 1e-5, zeros in place)', async () => {
  const src = await refTensors('sd1', 'samplers2', 'schedules.safetensors')
  const entries = readRefJson<{ entries: ScheduleGolden[] }>('sd1', 'samplers2', 'schedules.json').entries
  const schedule = modelSchedule(await (await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')).readF32('sample.alphas_cumprod'))
  const seen = new Set<string>()
  for (const e of entries) {
    const sdxl = e.key.startsWith('sched.align_your_steps_sdxl')
    const id = resolveScheduler(e.label) as ConcreteSchedulerId
    let got = sigmasFor(id, { schedule, steps: e.steps, family: sdxl ? 'sdxl' : 'sd1' })
    if (e.key.endsWith('dpm2_discard_penultimate')) got = samplerSigmas(SAMPLERS.dpm2, 'karras', { steps: e.steps, parameterization: 'eps' })
    const expected = await src.readF32(e.key)
    assert.equal(got.length, expected.length, `${e.key} length`)
    expected.forEach((v, i) => assert.ok(v === 0 ? got[i] === 0 : Math.abs(got[i] - v) <= 1e-5 * v, `${e.key}[${i}]: ${got[i]} vs ${v}`))
    seen.add(id)
  }
  assert.equal(entries.length, 34)
  const sdxlKeys = src.keys().filter((k) => k.startsWith('sched.align_your_steps_sdxl.n'))
  assert.equal(sdxlKeys.length, 3)
  for (const key of sdxlKeys) {
    const expected = await src.readF32(key)
    const got = sigmasFor('align_your_steps', { schedule, steps: expected.length - 1, family: 'sdxl' })
    expected.forEach((v, i) => assert.ok(v === 0 ? got[i] === 0 : Math.abs(got[i] - v) <= 1e-5 * v, `${key}[${i}]: ${got[i]} vs ${v}`))
  }
  assert.deepEqual([...seen].sort(), Object.keys(SCHEDULERS).filter((k) => k !== 'automatic').sort())
})
