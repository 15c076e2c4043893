/*
 * The SDXL refiner as A1111 runs it (apply_refiner) on the tiny SDXL model: a refiner with the base's own weights
 * (another file) must give the base-only run bit for bit, the switch notwithstanding; a refiner with other weights
 * must take over at the first step whose noise level's nearest discrete timestep t has (999 − t) / 1000 ≥ switch at,
 * computed here from the model's sigmas, with the steps before it unchanged. The same file as refiner is no switch.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../golden.ts'
import { formatInfotext } from '../../src/image/infotext.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { runBatches, NOISE_INIT, type RefinerOptions } from '../../src/pipeline/run-batches.ts'
import { resolveRequest } from '../../src/pipeline/request.ts'
import { modelSchedule } from '../../src/sampling/index.ts'
import { NEGATIVE, PROMPT, tokenizer } from './pipeline-goldens.ts'

const BASE = ref('sdxl', 'tiny-sdxl-base.safetensors')
const REQ = { prompt: PROMPT, negativePrompt: NEGATIVE, sampler: 'Euler', steps: 10, cfgScale: 5, seed: 77, rng: 'cpu' as const, width: 64, height: 64, tokenizer }

test('refiner: same weights → the base-only image bit for bit; other weights → switch at A1111\'s step; same file → no switch', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'refiner-'))
  try {
    const base = await loadModel(BASE, { threads: 1 })
    const r = resolveRequest(base.nativeSize, REQ)
    const run = async (refiner?: RefinerOptions) => {
      const sigmas: number[] = []
      const xs: Float32Array[] = []
      const [img] = await runBatches(base, { req: REQ, r, init: NOISE_INIT }, {
        keepSessions: true, ...(refiner ? { refiner } : {}), onProgress: (p) => { sigmas.push(p.sigma); xs.push(p.x.slice()) },
      })
      return { img, sigmas, xs }
    }
    const plain = await run()
    await copyFile(BASE, join(dir, 'tiny-refiner.safetensors'))
    const twin = await loadModel(join(dir, 'tiny-refiner.safetensors'), { threads: 1 })
    const same = await run({ model: twin, switchAt: 0.8, hash: '0123456789' })
    assert.deepEqual(same.img.latent, plain.img.latent)
    assert.match(formatInfotext(same.img.info), /, Refiner: tiny-refiner \[0123456789\], Refiner switch at: 0\.8, /)

    // expected switch step: Euler makes one denoiser call per step, at sigma_i
    const discrete = modelSchedule(base.alphasCumprod).sigmas
    const timestep = (s: number) => discrete.reduce((best, v, i) => (Math.abs(v - s) < Math.abs(discrete[best] - s) ? i : best), 0)
    const k = plain.sigmas.findIndex((s) => (999 - timestep(s)) / 1000 >= 0.8)
    assert.ok(k > 0 && k < 9, `switch step ${k}`)
    const key = 'model.diffusion_model.out.2.bias'
    twin.weights.set(key, twin.weights.shape(key), twin.weights.get(key).map((v) => v + 0.05))
    const other = await run({ model: twin, switchAt: 0.8 })
    for (let i = 0; i <= k; i++) assert.deepEqual(other.xs[i], plain.xs[i], `step ${i} starts as without a refiner`)
    assert.notDeepEqual(other.xs[k + 1], plain.xs[k + 1], `step ${k} ran on the refiner`)
    assert.match(formatInfotext(other.img.info), /, Refiner: tiny-refiner, Refiner switch at: 0\.8, /)

    const self = await run({ model: base, switchAt: 0.5 })
    assert.deepEqual(self.img.latent, plain.img.latent)
    assert.doesNotMatch(formatInfotext(self.img.info), /Refiner/)
    await twin.releaseSessions('unet')
  } finally { await rm(dir, { recursive: true, force: true }) }
})
