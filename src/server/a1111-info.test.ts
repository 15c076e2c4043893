import { test } from 'node:test'
import assert from 'node:assert/strict'
import { a1111Info } from './a1111-info.ts'
import type { GenerationJobPayload } from './request-base.ts'

const payload: GenerationJobPayload = {
  request: { mode: 'txt2img', model: 'tiny-sd1.safetensors [0123456789]', prompt: 'a cat', seed: 5, width: 64, height: 64, steps: 4, sampler: 'Euler' },
  face: 'a1111', saveImages: false, outdir: 'outputs/txt2img-images', modelTitle: 'tiny-sd1.safetensors [0123456789]', styles: [], parameters: {},
}
const info = (infotext: string): Record<string, unknown> =>
  JSON.parse(a1111Info(payload, [{ index: 0, seed: 5, infotext }], '20261205190000')) as Record<string, unknown>

test('info: is_using_inpainting_conditioning follows the run (a 9-channel UNet writes "Conditional mask weight")', () => {
  const plain = 'a cat\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Model hash: 0123456789, Model: tiny-sd1, Version: v1.10.1'
  const inpaint = 'a cat\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Model hash: 0123456789, Model: tiny-inpaint, Conditional mask weight: 1.0, Version: v1.10.1'
  assert.equal(info(plain).is_using_inpainting_conditioning, false)
  assert.equal(info(inpaint).is_using_inpainting_conditioning, true)
  assert.deepEqual([info(inpaint).seed, info(inpaint).sd_model_hash, info(inpaint).sd_model_name], [5, '0123456789', 'tiny-sd1'])
})
