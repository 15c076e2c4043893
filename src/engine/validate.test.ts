import { test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError } from '../core/errors.ts'
import type { GenerationRequest } from './contract.ts'
import { validateRequest } from './validate.ts'

const FULL: GenerationRequest = {
  mode: 'txt2img', model: 'models/sd15.safetensors', vae: 'vae.safetensors', prompt: 'a cat <lora:style:0.7>', negativePrompt: 'blurry',
  steps: 30, cfgScale: 6.5, sampler: 'DPM++ 2M', scheduler: 'Karras', seed: 4294967295, rng: 'cpu', width: 640, height: 384,
  batchSize: 2, batchCount: 3, clipSkip: 2, ensd: 31337, loras: [{ name: 'detail', weight: 0.5, unetWeight: 0.8 }], loraMode: 'auto',
  strict: true, prediction: 'v', vaeTiling: 'on', previewEvery: 5,
}

test('a request round-trips through JSON and validates to the same value (queued, stored, replayed)', () => {
  const again = JSON.parse(JSON.stringify(FULL)) as unknown
  assert.deepEqual(again, FULL)
  assert.deepEqual(validateRequest(again), FULL)
  assert.deepEqual(validateRequest({ mode: 'txt2img', model: 'm', prompt: '' }), { mode: 'txt2img', model: 'm', prompt: '' })
})

test('every JSON-level problem at once, each naming its field; ranges name theirs', () => {
  const bad = { mode: 'img2txt', prompt: 3, steps: '20', rng: 'gpu2', loras: [{ weight: 1 }, 'x'], colour: 'red' }
  assert.throws(() => validateRequest(bad), (e: unknown) => {
    assert.ok(e instanceof InputError)
    assert.deepEqual(e.issues.map((i) => [i.code, i.path.join('.')]), [
      ['enum', 'mode'], ['required', 'model'], ['type', 'prompt'], ['type', 'steps'], ['enum', 'rng'],
      ['required', 'loras.0.name'], ['type', 'loras.1'], ['unrecognized', 'colour'],
    ])
    assert.equal(e.issues[0].message, 'mode must be one of txt2img, img2img, got "img2txt"')
    return true
  })
  assert.throws(() => validateRequest({ ...FULL, width: 100 }), (e: unknown) => e instanceof InputError
    && e.issues[0].path[0] === 'width' && e.message === 'width must be a positive multiple of 8, got 100. Hint: the VAE works on 8×8 pixel blocks; try 96 or 104.')
  assert.throws(() => validateRequest({ ...FULL, steps: 1.5 }), { message: 'steps must be a whole number, got 1.5' })
  assert.throws(() => validateRequest(null), { message: 'a generation request must be an object' })
  assert.throws(() => validateRequest({ ...FULL, samplerParams: { eta: 'x', sMinUncond: 1, colour: 1 } }), (e: unknown) => e instanceof InputError
    && JSON.stringify(e.issues.map((i) => i.path.join('.'))) === '["samplerParams.eta","samplerParams.colour"]')
  assert.deepEqual(validateRequest({ ...FULL, samplerParams: { eta: 0.5, skipEarlyCond: 0.2 } }).samplerParams, { eta: 0.5, skipEarlyCond: 0.2 })
})

test('hires fix is an option of txt2img: its fields are checked by name, unknown ones refused', () => {
  const hires = { scale: 2, upscaler: 'R-ESRGAN 4x+', steps: 10, denoisingStrength: 0.5, prompt: 'a dog', negativePrompt: 'ugly', sampler: 'DPM++ 2M', scheduler: 'Karras', cfgScale: 5 }
  assert.deepEqual(validateRequest(JSON.parse(JSON.stringify({ ...FULL, hires }))), { ...FULL, hires })
  assert.throws(() => validateRequest({ ...FULL, hires: { scale: '2', steps: 1.5, colour: 1 } }), (e: unknown) => {
    assert.ok(e instanceof InputError)
    assert.deepEqual(e.issues.map((i) => [i.code, i.path.join('.')]), [['type', 'hires.scale'], ['type', 'hires.steps'], ['unrecognized', 'hires.colour']])
    return true
  })
  assert.throws(() => validateRequest({ ...FULL, hires: 2 }), { message: 'hires must be an object { scale?, upscaler?, steps?, denoisingStrength?, … }' })
})

test('refiner and refinerSwitchAt are checked (a string; a number in (0, 1])', () => {
  assert.deepEqual(validateRequest({ ...FULL, refiner: 'refiner.safetensors', refinerSwitchAt: 0.8 }), { ...FULL, refiner: 'refiner.safetensors', refinerSwitchAt: 0.8 })
  assert.throws(() => validateRequest({ ...FULL, refiner: 3 }), { message: 'refiner must be a string, got 3' })
  assert.throws(() => validateRequest({ ...FULL, refinerSwitchAt: 0 }), { message: 'refiner switch at must be in (0, 1], got 0' })
})

test('aestheticScore / negativeAestheticScore (an SDXL refiner\'s A1111 settings) are numbers', () => {
  assert.deepEqual(validateRequest({ ...FULL, aestheticScore: 7, negativeAestheticScore: 1.5 }), { ...FULL, aestheticScore: 7, negativeAestheticScore: 1.5 })
  assert.throws(() => validateRequest({ ...FULL, aestheticScore: 'high' }), { name: 'InputError', message: 'aestheticScore must be a finite number, got "high"' })
})

test('weights: every precision the loader knows is accepted (auto, fp32, int8, w8a8); others are refused naming them', () => {
  for (const weights of ['auto', 'fp32', 'int8', 'w8a8'] as const) assert.equal(validateRequest({ ...FULL, weights }).weights, weights)
  assert.throws(() => validateRequest({ ...FULL, weights: 'fp16' as never }), { message: /weights must be one of auto, fp32, int8, w8a8, got "fp16"/ })
})
