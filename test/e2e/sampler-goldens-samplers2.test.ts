/*
 * A1111 1.10 samplers and schedule types (reference README "sd1/samplers2/"): each run through sampling/'s
 * `sample()` over the tiny SD1 UNet with the goldens' conditioning, CFG 7, CPU noise. Checked: the initial noise
 * (exact), the sigmas / timesteps (relative 1e-5), every trajectory step (1e-3 · max|x_i|, so a divergence names its
 * step) and the final latent (1e-3 · max|latent|). One model session serves every case (sampler-goldens.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ImageRng, resolveSamplerAndSchedule, sample, scheduleTypeLabel } from '../../src/sampling/index.ts'
import type { StepInfo } from '../../src/sampling/index.ts'
import { maxAbs, maxAbsDiff, readRefJson, refTensors } from '../golden.ts'
import { FAMILIES, modelOf } from './sampler-goldens.ts'

interface Samplers2Entry {
  key: string; sampler_a1111: string; scheduler_a1111: string; steps: number; seed: number; height: number; width: number; cfg_scale: number
  infotext_fields: Record<string, string | number>
}

/** A1111's own DDIM is "DDIM (A1111)" here: sdloom's "DDIM" is diffusers' DDIMScheduler (the round-1 goldens). */
const SAMPLER_NAME: Readonly<Record<string, string>> = { DDIM: 'DDIM (A1111)' }
/** Goldens whose sampler sdloom does not have yet (issue 10, listed in the lead's report). */
const NOT_YET = new Set<string>()

const entries = readRefJson<{ samplers: Samplers2Entry[] }>('sd1', 'samplers2', 'samplers2_goldens.json').samplers
assert.equal(entries.length, 32)

/**
 * The one case held to a wider bound, and why: at the same input x, sdloom's UNet (onnxruntime) and A1111's (torch)
 * differ by ~4e-6 of max|denoised| (call 0 of this run), within the UNet golden's 1e-4. DPM adaptive's step-size
 * controller divides by differences of eps a few percent of σ apart, so that difference moves its step sizes
 * (call 7's σ is 2e-6 off) and the run lands 2.2e-3 · max|latent| away, with the same 51 calls and accept/reject
 * decisions (the callback count is checked exactly). The reference README calls this seed sensitive (seed 42
 * flipped decisions even in float64). sampler-replay-samplers2.test.ts checks the sampler itself on this case, with
 * A1111's own model outputs, to 1e-5.
 */
const TOLERANCE: Readonly<Record<string, number>> = { 'sample.dpm_adaptive.64x64': 3e-3 }

function assertStep(x: ArrayLike<number>, expected: Float32Array, what: string, tol = 1e-3): void {
  const d = maxAbsDiff(x, expected)
  assert.ok(d <= tol * maxAbs(expected), `${what}: ${d} > ${tol} · ${maxAbs(expected)}`)
}

for (const e of entries.filter((x) => !NOT_YET.has(x.sampler_a1111))) {
  test(`samplers2 ${e.key} (${e.sampler_a1111}, ${e.scheduler_a1111}): noise, schedule, every step and the latent`, async () => {
    const src = await refTensors('sd1', 'samplers2', 'samplers2_goldens.safetensors')
    const sd1 = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
    const [h, w] = [e.height / 8, e.width / 8]
    const trajectory: Float32Array[] = []
    const rng = new ImageRng({ shape: [4, h, w], seeds: [e.seed], source: 'cpu' })
    const result = await sample({
      sampler: SAMPLER_NAME[e.sampler_a1111] ?? e.sampler_a1111, scheduler: e.scheduler_a1111, steps: e.steps,
      model: (await modelOf(FAMILIES.sd1)).model, parameterization: 'eps', family: 'sd1',
      alphasCumprod: await sd1.readF32('sample.alphas_cumprod'), cfg: { scale: e.cfg_scale, weights: [[1]] }, rng,
      callback: (s: StepInfo) => { trajectory.push(Float32Array.from(s.x)) },
    })
    assert.deepEqual(new ImageRng({ shape: [4, h, w], seeds: [e.seed], source: 'cpu' }).next(), await src.readF32(`${e.key}.noise`))
    if (result.sigmas) {
      const sigmas = await src.readF32(`${e.key}.sigmas`)
      assert.equal(result.sigmas.length, sigmas.length, 'sigmas length')
      sigmas.forEach((v, i) => assert.ok(Math.abs(result.sigmas![i] - v) <= 1e-5 * v, `sigma ${i}: ${result.sigmas![i]} vs ${v}`))
    } else {
      assert.deepEqual(result.timesteps, Array.from(await src.readRaw(`${e.key}.timesteps`).then((b) => new BigInt64Array(b.buffer, b.byteOffset, b.byteLength / 8)), Number))
    }
    const all = await src.readF32(`${e.key}.trajectory`)
    const n = 4 * h * w
    assert.equal(trajectory.length, all.length / n, 'callbacks')
    const tol = TOLERANCE[e.key]
    trajectory.forEach((x, i) => assertStep(x, all.subarray(i * n, (i + 1) * n), `step ${i}`, tol))
    assertStep(result.latent, await src.readF32(`${e.key}.latent`), 'latent', tol)
    const { entry, scheduler } = resolveSamplerAndSchedule(SAMPLER_NAME[e.sampler_a1111] ?? e.sampler_a1111, e.scheduler_a1111)
    assert.equal(scheduleTypeLabel(entry, scheduler), e.infotext_fields['Schedule type'], 'infotext Schedule type')
  })
}
