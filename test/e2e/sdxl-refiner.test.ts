/*
 * SDXL refiner checkpoints (sd_xl_refiner.yaml topology) on a tiny random refiner made by test/fixtures/tiny-refiner.ts
 * around the reference tiny SDXL base: detected and named, loaded, its conditioning built as A1111/sgm build it
 * (bigG alone; vector = pooled + ConcatTimestepEmbedderND of original size, crop and aesthetic score, the latter
 * checked against a float64 computation written here from sgm's timestep_embedding), run as the base's --refiner
 * stage and on its own.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../golden.ts'
import { writeTinyRefiner, REFINER_ADM } from '../fixtures/tiny-refiner.ts'
import { formatInfotext } from '../../src/image/infotext.ts'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import { loadModel, type LoadedModel } from '../../src/pipeline/load-model.ts'
import { resolveRequest } from '../../src/pipeline/request.ts'
import { conditioningRequest, runBatches, NOISE_INIT, type RefinerOptions } from '../../src/pipeline/run-batches.ts'
import { NEGATIVE, PROMPT, tokenizer } from './pipeline-goldens.ts'

const REQ = { prompt: PROMPT, negativePrompt: NEGATIVE, sampler: 'Euler', steps: 10, cfgScale: 5, seed: 77, rng: 'cpu' as const, width: 64, height: 48, tokenizer }
const POOLED = 64
/** torch rounds the frequencies and the arguments to float32: for numbers up to 64, |Δarg| <= 64 · 2⁻²³ ≈ 7.6e-6. */
const TOL = 1e-5

let dir: string
let refiner: LoadedModel
let base: LoadedModel

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdxl-refiner-'))
  await writeTinyRefiner(join(dir, 'tiny-refiner.safetensors'))
  refiner = await loadModel(join(dir, 'tiny-refiner.safetensors'), { threads: 1 })
  base = await loadModel(ref('sdxl', 'tiny-sdxl-base.safetensors'), { threads: 1 })
})
after(async () => {
  await refiner?.release()
  await base?.release()
  await rm(dir, { recursive: true, force: true })
})

/** sgm timestep_embedding(x, 256) per number, cos half first, in float64 (max_period 10000, half = 128). */
function fourier64(values: readonly number[]): number[] {
  return values.flatMap((v) => {
    const freqs = Array.from({ length: 128 }, (_, i) => Math.exp((-Math.log(10000) * i) / 128))
    return [...freqs.map((f) => Math.cos(v * f)), ...freqs.map((f) => Math.sin(v * f))]
  })
}

function assertNear(actual: Float32Array, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`)
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`)
}

test('a refiner-topology checkpoint is identified as SDXL refiner and loads with bigG alone', async () => {
  const id = refiner.identification
  assert.deepEqual([id.kind, id.architecture.id, id.architecture.label], ['checkpoint', 'sdxl-refiner', 'SDXL refiner'])
  assert.equal(refiner.arch, 'sdxl')
  assert.deepEqual([refiner.unetConfig.admInChannels, refiner.unetConfig.contextDim, refiner.unetConfig.channelMult], [REFINER_ADM, 32, [1, 2, 2, 2]])
  assert.equal(refiner.prediction.detail, 'SDXL refiner predicts eps')
  const te = await refiner.textEncoders()
  assert.equal(te.arch, 'sdxl-refiner')
})

test('refiner conditioning: crossattn = bigG, vector = pooled | Fourier(h, w) | Fourier(crop 0, 0) | Fourier(aesthetic 6.0 / 2.5)', async () => {
  const r = resolveRequest(refiner.nativeSize, REQ)
  const creq = conditioningRequest(REQ, r)
  const mine = await buildConditioning(refiner, creq)
  const theirs = await buildConditioning(base, creq)                 // the same bigG weights inside the base
  const [c] = mine.condAt(0)
  const [b] = theirs.condAt(0)
  assert.equal(c.dim, 32)
  assert.equal(c.vector?.length, REFINER_ADM)
  // pooled: the base's own bigG pooled output, bit for bit; crossattn: the bigG half of the base's CLIP-L | bigG
  assert.deepEqual(c.vector?.subarray(0, POOLED), b.vector?.subarray(0, POOLED))
  const baseBigG = Float32Array.from({ length: b.tokens * 32 }, (_, i) => b.context[Math.floor(i / 32) * b.dim + (b.dim - 32) + (i % 32)])
  assert.deepEqual(c.context, baseBigG)
  assertNear(c.vector!.subarray(POOLED), fourier64([48, 64, 0, 0, 6]), TOL, 'positive size/crop/aesthetic')
  const u = mine.uncondAt(0)
  assert.notDeepEqual(u.vector!.subarray(0, POOLED), new Float32Array(POOLED))
  assertNear(u.vector!.subarray(POOLED), fourier64([48, 64, 0, 0, 2.5]), TOL, 'negative size/crop/aesthetic')

  // an empty negative prompt: zero crossattn and pooled (force_zero_embeddings=['txt']), the numbers kept
  const empty = (await buildConditioning(refiner, { ...creq, negativePrompt: '' })).uncondAt(0)
  assert.ok(empty.context.every((v) => v === 0) && empty.vector!.subarray(0, POOLED).every((v) => v === 0))
  assertNear(empty.vector!.subarray(POOLED), fourier64([48, 64, 0, 0, 2.5]), TOL, 'empty negative')
  // A1111's sdxl_refiner_high/low_aesthetic_score options
  // … as a request's aestheticScore / negativeAestheticScore (one given: the other keeps its default)
  const scored = await buildConditioning(refiner, conditioningRequest({ ...REQ, aestheticScore: 7, negativeAestheticScore: 1.5 }, r))
  assertNear(scored.condAt(0)[0].vector!.subarray(POOLED + 1024), fourier64([7]), TOL, 'aesthetic 7')
  assertNear(scored.uncondAt(0).vector!.subarray(POOLED + 1024), fourier64([1.5]), TOL, 'aesthetic 1.5')
  assert.deepEqual(conditioningRequest({ ...REQ, negativeAestheticScore: 2 }, r).aestheticScores, { positive: 6, negative: 2 })
  assert.equal(conditioningRequest(REQ, r).aestheticScores, undefined)
  await refiner.releaseSessions('text')
  await base.releaseSessions('text')
})

test('the refiner runs as the base\'s --refiner stage (taking over at the switch) and on its own', async () => {
  const r = resolveRequest(base.nativeSize, REQ)
  const run = async (model: LoadedModel, opts: { refiner?: RefinerOptions } = {}) => {
    const xs: Float32Array[] = []
    const [img] = await runBatches(model, { req: REQ, r: resolveRequest(model.nativeSize, REQ), init: NOISE_INIT }, {
      keepSessions: true, ...opts, onProgress: (p) => { xs.push(p.x.slice()) },
    })
    return { img, xs }
  }
  const plain = await run(base)
  const refined = await run(base, { refiner: { model: refiner, switchAt: 0.5 } })
  assert.match(formatInfotext(refined.img.info), /, Refiner: tiny-refiner, Refiner switch at: 0\.5, /)
  assert.deepEqual(refined.xs[0], plain.xs[0], 'the first step runs on the base')
  assert.notDeepEqual(refined.img.latent, plain.img.latent)
  assert.ok(refined.img.latent.every(Number.isFinite))
  assert.equal(r.steps, refined.xs.length)

  const alone = await run(refiner)
  assert.deepEqual(alone.img.image.shape, [1, 3, 48, 64])
  assert.ok(alone.img.image.data.every(Number.isFinite))
  assert.notDeepEqual(alone.img.latent, plain.img.latent)
  await refiner.releaseSessions('unet')
  await base.releaseSessions('unet')
})
