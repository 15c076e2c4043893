/*
 * Batches and prompt schedules through txt2img on the tiny SD1 model: image i of a batch is the image a batch of
 * one with seed + i gives (A1111 all_seeds; NV Philox noise here), batch count continues the seeds, the infotext
 * reads back, prompt editing switches the conditioning at A1111's step, and AND / long prompts run.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseInfotext, formatInfotext } from '../../src/image/infotext.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import { txt2img, type Txt2ImgRequest } from '../../src/pipeline/txt2img.ts'
import { maxAbs, maxAbsDiff, ref } from '../golden.ts'
import { KEEP, NEGATIVE, PROMPT, maxByteDiff, sharedModel, tokenizer } from './pipeline-goldens.ts'

const model = () => sharedModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
const BASE: Txt2ImgRequest = {
  prompt: PROMPT, negativePrompt: NEGATIVE, sampler: 'Euler a', steps: 4, cfgScale: 7, seed: 4294967295, rng: 'nv', width: 64, height: 64, tokenizer,
}

test('batch size 2 = two single runs with seed and seed + 1 (Euler a: ancestral draws per image stream)', async () => {
  const m = await model()
  const batch = await txt2img(m, { ...BASE, batchSize: 2 }, KEEP)
  const singles = [...await txt2img(m, BASE, KEEP), ...await txt2img(m, { ...BASE, seed: 4294967296 }, KEEP)]
  assert.deepEqual(batch.map((b) => b.seed), [4294967295, 4294967296])
  batch.forEach((b, i) => {
    const d = maxAbsDiff(b.latent, singles[i].latent)
    assert.ok(d <= 1e-4 * maxAbs(singles[i].latent), `image ${i}: latent ${d}`)
    assert.ok(maxByteDiff(imageToUint8(b.image).data, imageToUint8(singles[i].image).data) <= 1, `image ${i}: uint8`)
    assert.equal(b.info.seed, singles[i].info.seed)
  })
})

test('batch count 2 × batch size 1: seeds continue, progress per batch, infotext round-trips', async () => {
  const progress: string[] = []
  const images = await txt2img(await model(), { ...BASE, seed: 10, batchCount: 2, sampler: 'dpmpp_2m', scheduler: 'karras', clipSkip: 2 },
    { ...KEEP, onProgress: (p) => progress.push(`${p.batch}:${p.step}/${p.steps}`), modelHash: '0123456789' })
  assert.deepEqual(images.map((i) => [i.index, i.seed]), [[0, 10], [1, 11]])
  assert.deepEqual(progress, ['0:1/4', '0:2/4', '0:3/4', '0:4/4', '1:1/4', '1:2/4', '1:3/4', '1:4/4'])
  const parsed = parseInfotext(formatInfotext(images[1].info))
  assert.equal(parsed.prompt, PROMPT)
  assert.equal(parsed.negativePrompt, NEGATIVE)
  assert.deepEqual(parsed.info, {
    prompt: PROMPT, negativePrompt: NEGATIVE, steps: 4, sampler: 'DPM++ 2M', scheduleType: 'Karras', cfgScale: 7, seed: 11,
    width: 64, height: 64, modelHash: '0123456789', model: 'tiny-sd1', clipSkip: 2, rng: 'NV', version: images[1].info.version,
  })
})

test('prompt editing [cat:dog:3] uses "cat" up to denoiser call 3 and "dog" from call 4 (A1111 reconstruct_cond_batch)', async () => {
  const m = await model()
  const opts = { negativePrompt: '', scheduleSteps: 8, clipSkip: 1, tokenizer, width: 64, height: 64 }
  const edit = await buildConditioning(m, { ...opts, prompt: 'a [cat:dog:3]' })
  const cat = await buildConditioning(m, { ...opts, prompt: 'a cat' })
  const dog = await buildConditioning(m, { ...opts, prompt: 'a dog' })
  assert.deepEqual(edit.condAt(3)[0].context, cat.condAt(0)[0].context)
  assert.deepEqual(edit.condAt(4)[0].context, dog.condAt(0)[0].context)
  assert.notDeepEqual(cat.condAt(0)[0].context, dog.condAt(0)[0].context)
})

test('AND with weights, a 2-chunk prompt against a 1-chunk negative, and <lora:…> text removed: the run completes', async () => {
  const m = await model()
  const long = Array.from({ length: 80 }, () => 'cat').join(' ')
  const c = await buildConditioning(m, { prompt: `a cat :1.5 AND ${long} :0.5 <lora:x:1>`, negativePrompt: NEGATIVE, scheduleSteps: 2, clipSkip: 1, tokenizer, width: 64, height: 64 })
  assert.deepEqual(c.weights, [1.5, 0.5])
  assert.deepEqual(c.condAt(0).map((x) => x.tokens), [77, 154])
  const [img] = await txt2img(m, { ...BASE, prompt: `a cat :1.5 AND ${long} :0.5`, steps: 2 })
  assert.deepEqual(img.image.shape, [1, 3, 64, 64])
  assert.ok(img.latent.every(Number.isFinite))
})

test('progress carries the sampler\'s latents: Euler\'s last step lands on its denoised estimate (σ_next = 0)', async () => {
  const seen: { step: number; sigma: number; denoised: Float32Array; shape: readonly number[] }[] = []
  const [img] = await txt2img(await model(), { ...BASE, sampler: 'Euler', steps: 3 }, {
    ...KEEP, onProgress: (p) => seen.push({ step: p.step, sigma: p.sigma, denoised: p.denoised.slice(), shape: p.latentShape }),
  })
  assert.deepEqual(seen.map((s) => s.step), [1, 2, 3])
  assert.deepEqual(seen[0].shape, [4, 8, 8])
  assert.ok(seen[0].sigma > seen[1].sigma && seen[1].sigma > seen[2].sigma)
  // x_next = x + (x − denoised)/σ · (0 − σ) = denoised, up to float32 rounding
  const last = seen[2].denoised
  assert.equal(last.length, img.latent.length)
  assert.ok(maxAbsDiff(last, img.latent) <= 1e-5 * maxAbs(img.latent), `${maxAbsDiff(last, img.latent)}`)
})
