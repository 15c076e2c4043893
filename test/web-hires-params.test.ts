/** The generate form's hires fix and refiner panels: A1111's fields out, and back from an infotext (a dropped PNG). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULTS, fromParameters, HIRES_DEFAULTS, REFINER_DEFAULTS, toJobBody } from '../web/src/params.ts'
import type { Catalog } from '../web/src/types.ts'

const catalog: Catalog = {
  checkpoints: [{ title: 'tiny-sd1.safetensors [0123456789]', model_name: 'tiny-sd1', hash: '0123456789', filename: '/m/tiny-sd1.safetensors' },
    { title: 'other.safetensors [abcdefabcd]', model_name: 'other', hash: 'abcdefabcd', filename: '/m/other.safetensors' }],
  vaes: [], samplers: [{ name: 'Euler', aliases: [] }], schedulers: [], library: [], tags: [],
  upscalers: ['Latent', 'Latent (nearest-exact)', 'Lanczos', 'Nearest', 'R-ESRGAN 4x+'],
}

test('hires fix: off sends no hr_ field; on sends A1111\'s (hr_checkpoint_name only for another checkpoint); never from the img2img tab', () => {
  const off = toJobBody(DEFAULTS)
  assert.deepEqual(Object.keys(off).filter((k) => k.startsWith('hr_') || k === 'enable_hr' || k === 'denoising_strength'), [])
  const on = { ...DEFAULTS, hires: { ...HIRES_DEFAULTS, enabled: true, upscaler: 'Lanczos', scale: 1.5, steps: 6, denoise: 0.45 } }
  assert.deepEqual(Object.fromEntries(Object.entries(toJobBody(on)).filter(([k]) => k.startsWith('hr_') || k === 'enable_hr' || k === 'denoising_strength')),
    { enable_hr: true, hr_upscaler: 'Lanczos', hr_scale: 1.5, hr_second_pass_steps: 6, denoising_strength: 0.45 })
  assert.equal(toJobBody({ ...on, hires: { ...on.hires, checkpoint: 'other.safetensors [abcdefabcd]' } }).hr_checkpoint_name, 'other.safetensors [abcdefabcd]')
  assert.equal(toJobBody(on, 'img2img').enable_hr, undefined)
})

test('hires fix from an infotext: upscale, steps, upscaler, denoising strength and checkpoint restored; unknown ones listed', () => {
  const fields = { Prompt: 'a cat', Steps: '20', Seed: '5', 'Size-1': '512', 'Size-2': '512', 'Denoising strength': '0.5', 'Hires upscale': '2',
    'Hires steps': '10', 'Hires upscaler': 'R-ESRGAN 4x+', 'Hires checkpoint': 'other [abcdefabcd]' }
  const r = fromParameters(fields, DEFAULTS, catalog, false)
  assert.deepEqual(r.params.hires, { enabled: true, upscaler: 'R-ESRGAN 4x+', scale: 2, steps: 10, denoise: 0.5, checkpoint: 'other.safetensors [abcdefabcd]' })
  assert.deepEqual(r.notRestored, [])
  const missing = fromParameters({ ...fields, 'Hires upscaler': '4x-Nope', 'Hires checkpoint': 'gone [1111111111]' }, DEFAULTS, catalog, false)
  assert.deepEqual(missing.notRestored, ['Hires checkpoint: gone [1111111111] (not in the library)', 'Hires upscaler: 4x-Nope (not installed here)'])
  assert.equal(missing.params.hires.upscaler, 'Latent')
  // no hires fields: hires fix off (an img2img infotext's Denoising strength is not a hires one)
  const plain = fromParameters({ Prompt: 'a cat', 'Denoising strength': '0.4' }, { ...DEFAULTS, hires: { ...HIRES_DEFAULTS, enabled: true } }, catalog, false)
  assert.equal(plain.params.hires.enabled, false)
  assert.deepEqual(plain.notRestored, ['Denoising strength: 0.4 (no hires fix)'])
})

test('refiner: sent only when on with a checkpoint (both tabs); restored from "Refiner: name [hash]" and its switch point', () => {
  const on = { ...DEFAULTS, refiner: { ...REFINER_DEFAULTS, enabled: true } }
  assert.equal(toJobBody(on).refiner_checkpoint, undefined, 'no checkpoint chosen yet: nothing sent')
  const chosen = { ...on, refiner: { ...on.refiner, checkpoint: 'other.safetensors [abcdefabcd]', switchAt: 0.6 } }
  for (const mode of ['txt2img', 'img2img'] as const) {
    const body = toJobBody(chosen, mode)
    assert.deepEqual([body.refiner_checkpoint, body.refiner_switch_at], ['other.safetensors [abcdefabcd]', 0.6])
  }
  const r = fromParameters({ Prompt: 'a', Refiner: 'other [abcdefabcd]', 'Refiner switch at': '0.7' }, DEFAULTS, catalog, false)
  assert.deepEqual(r.params.refiner, { enabled: true, checkpoint: 'other.safetensors [abcdefabcd]', switchAt: 0.7 })
  const gone = fromParameters({ Prompt: 'a', Refiner: 'gone [1111111111]', 'Refiner switch at': '0.7' }, DEFAULTS, catalog, false)
  assert.deepEqual([gone.params.refiner, gone.notRestored], [REFINER_DEFAULTS, ['Refiner: gone [1111111111] (not in the library)']])
})
