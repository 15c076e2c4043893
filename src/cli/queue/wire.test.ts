import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Img2ImgGeneration } from '../../engine/contract.ts'
import { jobFromWire, jobToWire, type WireJob } from './wire.ts'

test('an img2img job survives the queue\'s JSON (BullMQ stores job data as JSON text) with its pixels as bytes', () => {
  const req: Img2ImgGeneration = {
    mode: 'img2img', model: 'a'.repeat(64), prompt: 'a cat', denoisingStrength: 0.5,
    init: { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 250, 251, 252]) },
    inpaint: { mask: { width: 2, height: 1, data: Uint8Array.from([0, 255]) }, maskBlur: 4 },
  }
  const stored = JSON.parse(JSON.stringify(jobToWire(req))) as WireJob
  const back = jobFromWire(stored)
  assert.deepEqual(back, req)
  assert.ok(back.mode === 'img2img' && back.init.data instanceof Uint8Array && back.inpaint?.mask.data instanceof Uint8Array)
})

test('a job whose request is not valid is refused naming the field', () => {
  assert.throws(() => jobFromWire({ request: JSON.stringify({ mode: 'txt2img', model: 'm', prompt: 'p', steps: -1 }) }), { name: 'InputError', message: /steps/ })
})
