/*
 * Previews through the Engine (A1111's live preview methods): 'taesd' gives full-size previews equal to the TAESD
 * decoder run on the step's denoised latent (taken from the pipeline's own run), in order before the decode phase,
 * with the decoder loaded once across requests; without a TAESD file the previews are the cheap 1/8-size projection
 * and the request gets one warning.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { EngineEvent, GenerationRequest, ModelResolver } from '../../src/engine/contract.ts'
import type { HostTensor } from '../../src/core/host-tensor.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { TaesdDecoder } from '../../src/models/taesd/index.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { tokenizer } from './pipeline-goldens.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')
const TAESD = ref('taesd', 'taesd_decoder.safetensors')
const REQ: GenerationRequest = { mode: 'txt2img', model: SD1, prompt: 'a red barn', steps: 3, seed: 8, rng: 'cpu', width: 64, height: 64, sampler: 'Euler', previewEvery: 1 }

const engineWith = (resolver: ModelResolver): Engine => new Engine({
  resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false, threads: 1, loader: (spec, opts) => loadModel(spec.file, { ...opts, threads: 1 }),
})

test('TAESD previews equal the TAESD decoder on each step\'s denoised latent, in order; the decoder is kept', async () => {
  const engine = engineWith({ ...fileResolver(), taesd: async (family) => (family === 'sd' ? TAESD : undefined) })
  try {
    const events: EngineEvent[] = []
    await engine.generate({ ...REQ, previewMethod: 'taesd' }, { onEvent: (e) => { events.push(e) } })
    const order = events.filter((e) => e.type === 'step' || e.type === 'image' || (e.type === 'phase' && e.phase === 'decode' && e.done === undefined))
    assert.deepEqual(order.map((e) => (e.type === 'step' ? `step ${e.step}` : e.type)), ['step 1', 'step 2', 'step 3', 'phase', 'image'])

    const model = await loadModel(SD1, { threads: 1 })
    const decoder = await TaesdDecoder.load(TAESD, { threads: 1 })
    const denoised: HostTensor[] = []
    await txt2img(model, { ...REQ, tokenizer }, {
      keepSessions: true,
      onProgress: (p) => { const [c, h, w] = p.latentShape; denoised.push({ shape: [1, c, h, w], data: p.denoised.slice(0, c * h * w) }) },
    })
    const steps = events.filter((e) => e.type === 'step')
    assert.equal(steps.length, 3)
    for (const [i, s] of steps.entries()) {
      assert.ok(s.type === 'step' && s.preview)
      assert.equal(s.preview.width, 64, 'full size, not the cheap 1/8')
      assert.deepEqual(s.preview, imageToUint8(await decoder.decode(denoised[i])), `step ${i + 1}`)
    }
    await decoder.release()
    await model.release()

    await engine.generate({ ...REQ, seed: 9, previewMethod: 'taesd' })
    assert.equal(engine.previews.loads, 1, 'one TAESD decoder load for two requests')
  } finally {
    await engine.close()
  }
})

test('without a TAESD file, taesd previews fall back to the cheap projection with one warning', async () => {
  const engine = engineWith({ ...fileResolver(), taesd: async () => undefined })
  try {
    const events: EngineEvent[] = []
    const result = await engine.generate({ ...REQ, previewMethod: 'taesd' }, { onEvent: (e) => { events.push(e) } })
    const previews = events.flatMap((e) => (e.type === 'step' && e.preview ? [e.preview] : []))
    assert.deepEqual(previews.map((p) => p.width), [8, 8, 8])
    assert.equal(result.warnings.filter((w) => w.includes('no taesd_decoder file')).length, 1)
    assert.equal(engine.previews.loads, 0)
  } finally {
    await engine.close()
  }
})
