/* Sampler goldens (see sampler-goldens.ts): sd2 (v-prediction) and sdxl. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cfgDenoiser, modelSchedule } from '../../src/sampling/index.ts'
import { maxAbs, maxAbsDiff, refTensors } from '../golden.ts'
import { FAMILIES, modelOf, samplerGoldenTests } from './sampler-goldens.ts'

samplerGoldenTests(FAMILIES.sd2, '.64x64')
samplerGoldenTests(FAMILIES.sdxl, '.64x64')

test('sd2 v-prediction denoiser + CFG: denoised implied by the Euler trajectory (steps 2-6) within 1e-3 · max', async () => {
  const f = FAMILIES.sd2
  const src = await refTensors(f.dir, 'goldens', `${f.goldens}.safetensors`)
  const denoise = cfgDenoiser({
    model: (await modelOf(f)).model, schedule: modelSchedule(await src.readF32('sample.alphas_cumprod')),
    parameterization: 'v', cfg: { scale: 7, weights: [[1]] },
  })
  const traj = await src.readF32('sample.euler.64x64.trajectory')
  const sigmas = await src.readF32('sample.euler.64x64.sigmas')
  for (let i = 2; i < 7; i++) {
    const x = traj.subarray(i * 256, (i + 1) * 256)
    const next = traj.subarray((i + 1) * 256, (i + 2) * 256)
    // Euler: next = x + (x − D)/σ·(σ' − σ)  =>  D = x − (next − x)·σ/(σ' − σ)
    const implied = x.map((v, k) => v - ((next[k] - v) * sigmas[i]) / (sigmas[i + 1] - sigmas[i]))
    const d = maxAbsDiff(await denoise(x, sigmas[i]), implied)
    assert.ok(d <= 1e-3 * maxAbs(implied), `step ${i}: ${d} > 1e-3 · ${maxAbs(implied)}`)
  }
})
