import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cfgDenoiser, cfgModelOutput, cfgRows, plainDenoiser } from './cfg.ts'
import { compVisScalings } from './denoiser.ts'
import type { ModelBatch, ModelFn } from './denoiser.ts'
import { modelSchedule, sigmaToT } from './schedules.ts'

const schedule = modelSchedule()
const close = (a: number, b: number, rel = 2e-7) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b))

test('CompVisDenoiser / CompVisVDenoiser scalings (sigma_data = 1)', () => {
  for (const s of [0.0292, 1, 3.7, 14.6146]) {
    const eps = compVisScalings('eps', s)
    assert.ok(close(eps.cIn, 1 / Math.sqrt(s * s + 1)) && eps.cSkip === 1 && close(eps.cOut, -s), `eps ${s}`)
    const v = compVisScalings('v', s)
    assert.ok(close(v.cIn, 1 / Math.sqrt(s * s + 1)), `v c_in ${s}`)
    assert.ok(close(v.cSkip, 1 / (s * s + 1)), `v c_skip ${s}`)
    assert.ok(close(v.cOut, -s / Math.sqrt(s * s + 1)), `v c_out ${s}`)
  }
})

test('CFG batch layout: every cond row (image-major), then one uncond row per image', () => {
  assert.deepEqual(cfgRows({ scale: 7, weights: [[1, 0.5], [1]] }), [
    { kind: 'cond', image: 0, part: 0 }, { kind: 'cond', image: 0, part: 1 }, { kind: 'cond', image: 1, part: 0 },
    { kind: 'uncond', image: 0 }, { kind: 'uncond', image: 1 },
  ])
  assert.throws(() => cfgRows({ scale: 7, weights: [[]] }), {
    name: 'InputError', message: 'CFG: image 0 has no prompt parts; give at least [1].',
  })
})

/** A model whose output row r is a constant c_r, recording what it was called with. */
function recordingModel(calls: { xIn: Float32Array; t: number; batch: ModelBatch }[]): ModelFn {
  return async (xIn, t, batch) => {
    calls.push({ xIn: Float32Array.from(xIn), t, batch })
    const per = xIn.length / batch.rows.length
    return Float32Array.from(xIn, (_, k) => Math.floor(k / per) + 1)
  }
}

test('cfgDenoiser: one batched call on x·c_in at t = sigma_to_t(σ), then A1111 combine_denoised', async () => {
  const calls: { xIn: Float32Array; t: number; batch: ModelBatch }[] = []
  const weights = [[0.75, 0.25], [1]]
  const x = Float32Array.from([1, 2, 3, 4, 5, 6]) // 2 images × 3 values
  const sigma = 2.5
  const denoised = await cfgDenoiser({ model: recordingModel(calls), schedule, parameterization: 'eps', cfg: { scale: 7, weights } })(x, sigma)
  assert.equal(calls.length, 1)
  const { xIn, t, batch } = calls[0]
  assert.equal(t, sigmaToT(schedule, sigma))
  assert.equal(batch.sigma, sigma)
  const cIn = 1 / Math.sqrt(sigma * sigma + 1)
  const rowsOfImage = [0, 0, 1, 0, 1]
  rowsOfImage.forEach((img, r) => {
    for (let i = 0; i < 3; i++) assert.ok(close(xIn[r * 3 + i], x[img * 3 + i] * cIn), `row ${r}`)
  })
  // per row: denoised_r = x − σ·(r + 1); guided = u + Σ w·7·(c − u)
  const den = (img: number, i: number, r: number) => x[img * 3 + i] - sigma * (r + 1)
  for (let i = 0; i < 3; i++) {
    const u0 = den(0, i, 3)
    const g0 = u0 + 0.75 * 7 * (den(0, i, 0) - u0) + 0.25 * 7 * (den(0, i, 1) - u0)
    const u1 = den(1, i, 4)
    const g1 = u1 + 7 * (den(1, i, 2) - u1)
    assert.ok(close(denoised[i], g0, 1e-6) && close(denoised[3 + i], g1, 1e-6), `value ${i}`)
  }
})

test('v-prediction: denoised = x·c_skip + v·c_out; plain denoiser has no uncond rows', async () => {
  const calls: { xIn: Float32Array; t: number; batch: ModelBatch }[] = []
  const x = Float32Array.from([0.5, -1, 2, 4])
  const sigma = 0.8
  const denoised = await plainDenoiser({ model: recordingModel(calls), schedule, parameterization: 'v', images: 2 })(x, sigma)
  assert.deepEqual(calls[0].batch.rows, [{ kind: 'cond', image: 0, part: 0 }, { kind: 'cond', image: 1, part: 0 }])
  const s2 = sigma * sigma + 1
  x.forEach((v, k) => assert.ok(close(denoised[k], v / s2 + (Math.floor(k / 2) + 1) * (-sigma / Math.sqrt(s2)), 1e-6), `k ${k}`))
})

test('eps-space guidance for DDIM feeds x_t unscaled; wrong output sizes are reported', async () => {
  const calls: { xIn: Float32Array; t: number; batch: ModelBatch }[] = []
  const out = await cfgModelOutput(recordingModel(calls), { scale: 3, weights: [[1]] })(Float32Array.from([9, 8]), 501, 0.9)
  assert.deepEqual([...calls[0].xIn], [9, 8, 9, 8])
  assert.equal(calls[0].t, 501)
  assert.deepEqual([...out], [2 + 3 * (1 - 2), 2 + 3 * (1 - 2)])
  const bad: ModelFn = async () => new Float32Array(3)
  await assert.rejects(cfgDenoiser({ model: bad, schedule, parameterization: 'eps', cfg: { scale: 7, weights: [[1]] } })(new Float32Array(4), 1), {
    name: 'SdError',
    message: 'the model returned 3 values for a batch of 8. Hint: the model function must return one output row per input row, in the same order.',
  })
})

test('CFG 1 fast path: one model call per step with only the cond rows; weights not summing to 1 keep the uncond row', async () => {
  const { sample } = await import('./run.ts')
  const { ImageRng } = await import('./rng/image-rng.ts')
  const calls: ModelBatch[] = []
  const model: ModelFn = async (xIn, _t, batch) => { calls.push(batch); return xIn.map((v, i) => Math.sin(v + i)) }
  const run = (weights: number[][]) => sample({
    sampler: 'Euler', steps: 6, model, parameterization: 'eps', cfg: { scale: 1, weights },
    rng: new ImageRng({ shape: [4, 2, 2], seeds: [3, 4].slice(0, weights.length), source: 'cpu' }),
  })
  const fast = await run([[1], [1]])
  assert.equal(calls.length, 6)
  for (const c of calls) assert.deepEqual(c.rows, [{ kind: 'cond', image: 0, part: 0 }, { kind: 'cond', image: 1, part: 0 }])
  calls.length = 0
  await run([[0.5, 0.25]])
  assert.equal(calls.length, 6)
  assert.equal(calls[0].rows.filter((r) => r.kind === 'uncond').length, 1, 'weights not summing to 1 keep the uncond row')
  assert.ok(fast.latent.every(Number.isFinite))
  assert.equal(cfgRows({ scale: 1, weights: [[1]] }, { keepUncond: true }).length, 2)
})

test('NGMS and Skip Early CFG: the uncond pass is dropped on the calls A1111 1.10 drops it, at scale 1', async () => {
  const sigmas = [14.6, 7.1, 3.2, 1.4, 0.9, 0.5, 0.3, 0.1]
  const run = async (uncondSkip: { sMinUncond: number; skipEarlyCond: number }) => {
    const calls: { xIn: Float32Array; t: number; batch: ModelBatch }[] = []
    const cfg = { scale: 7, weights: [[1]], uncondSkip: { ...uncondSkip, totalCalls: sigmas.length } }
    const denoiser = cfgDenoiser({ model: recordingModel(calls), schedule, parameterization: 'eps', cfg })
    const outs = []
    for (const s of sigmas) outs.push((await denoiser(new Float32Array(4).fill(1), s))[0])
    return { skipped: calls.map((c) => c.batch.rows.length === 1), outs }
  }
  // independent: A1111 skips call i when i/total <= skip_early_cond, else when i is odd and sigma_i < s_min_uncond
  const expected = (sMin: number, early: number) => sigmas.map((s, i) => (early !== 0 && i / sigmas.length <= early) || (i % 2 === 1 && sMin > 0 && s < sMin))
  for (const [sMin, early] of [[1, 0], [0, 0.25], [2, 0.25], [0, 0]]) {
    const { skipped, outs } = await run({ sMinUncond: sMin, skipEarlyCond: early })
    assert.deepEqual(skipped, expected(sMin, early), `s_min_uncond ${sMin}, skip_early_cond ${early}`)
    // eps output rows are 1 (cond) and 2 (uncond): CFG 7 gives eps 2 + 7·(1 − 2) = −5, a skipped call eps 1
    outs.forEach((d, i) => assert.ok(close(d, 1 - sigmas[i] * (skipped[i] ? 1 : -5), 1e-6), `call ${i}: ${d}`))
  }
})
