/* Sampler goldens (see sampler-goldens.ts): sd2 (v-prediction) and sdxl. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cfgDenoiser, modelSchedule, resolveSampler } from '../../src/sampling/index.ts'
import { maxAbs, maxAbsDiff, refTensors } from '../golden.ts'
import { FAMILIES, modelOf, samplerGoldenTests } from './sampler-goldens.ts'
import { goldenEntries } from './pipeline-goldens.ts'

samplerGoldenTests(FAMILIES.sd2, '.64x64')
samplerGoldenTests(FAMILIES.sdxl, '.64x64')

/*
 * Besides the full runs above, each sd2 step is checked teacher-forced (each model call first resets x to the golden
 * trajectory's x_i, so the sampler steps from the golden state and keeps its own history): a divergence then names
 * its step. Tolerance as the README, 1e-3 · max|x_{i+1}|. CFG per entry (euler 7, dpmpp_2m_karras 4).
 */
for (const { key, cfg_scale: scale } of goldenEntries('sd2', 'sd2_goldens')) {
  test(`sd2 ${key}: every step from the golden state lands on the next golden state (v-denoiser, CFG ${scale})`, async () => {
    const f = FAMILIES.sd2
    const src = await refTensors(f.dir, 'goldens', `${f.goldens}.safetensors`)
    const entry = resolveSampler(key.includes('euler') ? 'Euler' : 'DPM++ 2M Karras')
    assert.equal(entry.kind, 'k-diffusion')
    const denoise = cfgDenoiser({
      model: (await modelOf(f)).model, schedule: modelSchedule(await src.readF32('sample.alphas_cumprod')),
      parameterization: 'v', cfg: { scale, weights: [[1]] },
    })
    const traj = await src.readF32(`${key}.trajectory`)
    const sigmas = await src.readF32(`${key}.sigmas`)
    const golden = (i: number): Float32Array => traj.subarray(i * 256, (i + 1) * 256)
    const check = (x: Float32Array, expected: Float32Array, what: string): void => {
      const d = maxAbsDiff(x, expected)
      assert.ok(d <= 1e-3 * maxAbs(expected), `${what}: ${d} > 1e-3 · ${maxAbs(expected)}`)
    }
    let calls = 0
    const forced = async (x: Float32Array, sigma: number): Promise<Float32Array> => {
      if (calls > 0) check(x, golden(calls), `step ${calls - 1} → ${calls}`)
      x.set(golden(calls++))
      return denoise(x, sigma)
    }
    if (entry.kind !== 'k-diffusion') return
    const latent = await entry.sample(forced, Float32Array.from(golden(0)), sigmas)
    assert.equal(calls, sigmas.length - 1)
    check(latent, await src.readF32(`${key}.latent`), 'last step → latent')
  })
}
