/*
 * The Engine on the tiny SD1 model: its images equal the pipeline's own txt2img run; jobs started together on one
 * model or on two equal the same jobs run one after another; the cache loads each file once, evicts under a small
 * budget and never a busy model; an abort mid-sampling stops at the next step; conditionings are reused; events
 * carry phases, steps and previews.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { EngineEvent, GenerationRequest } from '../../src/engine/contract.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { formatInfotext } from '../../src/image/infotext.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { tokenizer } from './pipeline-goldens.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')
const SD1_CKPT = ref('sd1', 'tiny-sd1.ckpt')
const REQ: GenerationRequest = {
  mode: 'txt2img', model: SD1, prompt: 'a photo of a cat, (masterpiece:1.2)', negativePrompt: 'blurry', sampler: 'Euler a',
  steps: 4, cfgScale: 7, seed: 42, rng: 'cpu', width: 64, height: 64,
}

function countingEngine(budgetBytes?: number): { engine: Engine; loads: string[] } {
  const loads: string[] = []
  const engine = new Engine({
    resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, budgetBytes, hashCache: false,
    loader: (spec, opts) => { loads.push(spec.file); return loadModel(spec.file, { ...opts, threads: 1 }) },
  })
  return { engine, loads }
}

test('an engine image equals the pipeline\'s txt2img image, byte for byte, with the same infotext', async () => {
  const { engine } = countingEngine()
  const [img] = (await engine.generate(REQ)).images
  const model = await loadModel(SD1, { threads: 1 })
  const [direct] = await txt2img(model, { ...REQ, tokenizer }, { keepSessions: true })
  assert.deepEqual(img.rgb, imageToUint8(direct.image))
  assert.equal(img.infotext, formatInfotext({ ...direct.info, modelHash: img.info.modelHash as string }))
  await model.release()
  await engine.close()
})

test('two jobs at once on one model and on two models equal the same jobs run one after another', async () => {
  const { engine, loads } = countingEngine()
  const other: GenerationRequest = { ...REQ, seed: 7, sampler: 'DPM++ 2M', steps: 3 }
  const onCkpt: GenerationRequest = { ...REQ, model: SD1_CKPT, seed: 9 }
  const sequential: Uint8Array[] = []
  for (const r of [REQ, other, onCkpt]) sequential.push((await engine.generate(r)).images[0].rgb.data)
  const together = await Promise.all([REQ, other, onCkpt].map((r) => engine.generate(r)))
  together.forEach((t, i) => assert.deepEqual(t.images[0].rgb.data, sequential[i], `job ${i}`))
  assert.deepEqual(loads, [SD1, SD1_CKPT], 'each file loaded once')
  assert.equal((await engine.loadedModels()).length, 2)
  await engine.close()
})

test('a small budget evicts the least recently used idle model; a repeated prompt reuses its conditioning', async () => {
  const { engine, loads } = countingEngine(1)
  const first = await engine.generate(REQ)
  const again = await engine.generate(REQ)
  assert.deepEqual(again.images[0].rgb, first.images[0].rgb, 'cached conditioning: the same image')
  const [handle] = await engine.cache.handles()
  assert.equal(handle.conditionings.size, 1)
  assert.ok(handle.bytes > 1_000_000, `${handle.bytes} bytes held`)
  await engine.generate({ ...REQ, model: SD1_CKPT })
  assert.deepEqual((await engine.loadedModels()).map((m) => m.file), [SD1_CKPT], 'SD1 evicted')
  await engine.generate(REQ)
  assert.deepEqual(loads, [SD1, SD1_CKPT, SD1])
  await engine.close()
})

test('an abort mid-sampling stops at the next step with the signal\'s reason; events: phases, steps with s/it, previews', async () => {
  const { engine } = countingEngine()
  const events: EngineEvent[] = []
  const controller = new AbortController()
  const reason = new Error('stop')
  await assert.rejects(engine.generate({ ...REQ, steps: 20, previewEvery: 1 }, {
    signal: controller.signal,
    onEvent: (e) => { events.push(e); if (e.type === 'step' && e.step === 3) controller.abort(reason) },
  }), (e) => e === reason)
  const steps = events.filter((e) => e.type === 'step')
  assert.deepEqual(steps.map((e) => e.step), [1, 2, 3])
  assert.deepEqual(events.filter((e) => e.type === 'phase' && e.done === undefined).map((e) => e.type === 'phase' && e.phase), ['load', 'adapters', 'encode', 'sample'])
  for (const s of steps) {
    assert.ok(s.type === 'step' && s.secondsPerStep > 0 && Math.abs(s.etaSeconds - s.secondsPerStep * (20 - s.step)) < 1e-9)
    assert.ok(s.type === 'step' && s.preview && s.preview.width === 8 && s.preview.data.length === 8 * 8 * 3)
  }
  const done = await engine.generate({ ...REQ, previewEvery: 2 }, { onEvent: (e) => { events.push(e) } })
  assert.equal(done.images.length, 1, 'the model serves the next job after an abort')
  await engine.close()
})
