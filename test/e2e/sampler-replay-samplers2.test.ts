/*
 * The k-diffusion samplers of sd1/samplers2/ replayed without the UNet: the denoiser hands back A1111's own
 * CFG-combined denoised x0 of each recorded call (`calls.denoised`) and the noise sampler A1111's own draws
 * (`rng_draws` for ancestral noise, `brownian.noise` for the SDE samplers), so every difference left is the
 * sampler's arithmetic. Checked: each call's sigma (relative 1e-5) and input x, and the final latent, to 1e-5 of
 * max|x| (the goldens' own rule is 1e-3; with the model taken out the float32 ports must agree far closer).
 * This isolates the sampler where the UNet's own float32 differences (ORT vs torch, ~1e-5 of eps) would be
 * amplified, as DPM adaptive's step-size controller does (see sampler-goldens-samplers2.test.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SAMPLERS } from '../../src/sampling/index.ts'
import type { KDiffusionSampler } from '../../src/sampling/samplers/index.ts'
import { maxAbs, maxAbsDiff, readRefJson, refTensors } from '../golden.ts'

interface Entry { key: string; sampler_a1111: string; model_calls: number }
const entries = readRefJson<{ samplers: Entry[] }>('sd1', 'samplers2', 'samplers2_goldens.json').samplers
const kdiffusion = (label: string): KDiffusionSampler | undefined =>
  Object.values(SAMPLERS).find((e): e is KDiffusionSampler => e.kind === 'k-diffusion' && e.label === label)

function assertNear(actual: Float32Array, expected: Float32Array, what: string): void {
  const d = maxAbsDiff(actual, expected)
  assert.ok(d <= 1e-5 * maxAbs(expected), `${what}: ${d} > 1e-5 · ${maxAbs(expected)}`)
}

for (const e of entries.filter((x) => kdiffusion(x.sampler_a1111))) {
  test(`replay ${e.key} (${e.sampler_a1111}): A1111's model outputs and draws in, every call and the latent out`, async () => {
    const entry = kdiffusion(e.sampler_a1111)!
    const src = await refTensors('sd1', 'samplers2', 'samplers2_goldens.safetensors')
    const noise = await src.readF32(`${e.key}.noise`)
    const n = noise.length
    const at = (all: Float32Array, i: number) => all.subarray(i * n, (i + 1) * n)
    const [xs, sigmas, denoised] = await Promise.all(['x', 'sigma', 'denoised'].map((a) => src.readF32(`${e.key}.calls.${a}`)))
    const draws = await src.readF32(entry.noise === 'brownian' ? `${e.key}.brownian.noise` : `${e.key}.rng_draws`).catch(() => new Float32Array())
    let call = 0
    let draw = 0
    const model = async (x: Float32Array, sigma: number): Promise<Float32Array> => {
      assert.ok(call < sigmas.length, `more than the ${sigmas.length} recorded calls`)
      assert.ok(Math.abs(sigma - sigmas[call]) <= 1e-5 * sigmas[call], `call ${call}: sigma ${sigma} vs ${sigmas[call]}`)
      assertNear(x, at(xs, call), `call ${call} x`)
      return Float32Array.from(at(denoised, call++))
    }
    const schedule = await src.readF32(`${e.key}.sigmas`)
    const x = noise.map((v) => Math.fround(v * schedule[0]))
    const latent = await entry.sample(model, x, schedule, { noise: () => Float32Array.from(at(draws, draw++)) })
    assert.equal(call, e.model_calls, 'model calls')
    assertNear(latent, await src.readF32(`${e.key}.latent`), 'latent')
  })
}
