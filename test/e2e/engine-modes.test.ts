/*
 * Hires fix and the refiner through the Engine's request contract: the images equal the pipeline's own runs of the
 * same settings, byte for byte, with the same infotext fields.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { GenerationRequest } from '../../src/engine/contract.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { txt2imgHires } from '../../src/pipeline/hires.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { tokenizer } from './pipeline-goldens.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')
const SD1_CKPT = ref('sd1', 'tiny-sd1.ckpt')

test('engine: hires fix (latent, own prompt/sampler/CFG) and a refiner equal the pipeline\'s runs', async () => {
  const engine = new Engine({ resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false, loader: (spec, opts) => loadModel(spec.file, { ...opts, threads: 1 }) })
  const req: GenerationRequest = {
    mode: 'txt2img', model: SD1, prompt: 'a photo of a cat', negativePrompt: 'blurry', sampler: 'Euler a', steps: 3, cfgScale: 7, seed: 5, rng: 'cpu',
    width: 64, height: 64, hires: { scale: 1.5, steps: 2, denoisingStrength: 0.6, prompt: 'a photo of a dog', sampler: 'Euler', cfgScale: 5 },
    refiner: SD1_CKPT, refinerSwitchAt: 0.5,
  }
  const [img] = (await engine.generate(req)).images
  const model = await loadModel(SD1, { threads: 1 })
  const refiner = await loadModel(SD1_CKPT, { threads: 1 })
  const hires = { scale: 1.5, steps: 2, denoisingStrength: 0.6, prompt: 'a photo of a dog', sampler: 'Euler', cfgScale: 5 }
  const [direct] = await txt2imgHires(model, { ...req, hires, tokenizer }, { keepSessions: true, refiner: { model: refiner, switchAt: 0.5 } })
  assert.deepEqual(img.rgb, imageToUint8(direct.image))
  assert.equal(img.rgb.width, 96)
  assert.match(img.infotext, /Hires upscale: 1\.5, Hires steps: 2, Hires upscaler: Latent, Hires sampler: Euler, Hires prompt: a photo of a dog, Hires CFG Scale: 5, Refiner: tiny-sd1 \[[0-9a-f]{10}\], Refiner switch at: 0\.5/)
  await model.release()
  await refiner.release()
  await engine.close()
})
