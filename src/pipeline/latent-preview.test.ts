import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cheapPreview } from './latent-preview.ts'

test('cheap preview: RGB = latent · A1111\'s 4×3 matrix, · 0.5 + 0.5, clamped, × 255, truncated; per family', () => {
  // one image of 2 pixels: pixel 0 has channel 0 = 1 (the matrix's first row), pixel 1 channel 3 = 1 (its last)
  const latent = new Float32Array([1, 0, 0, 0, 0, 0, 0, 1])
  const sd = cheapPreview(latent, [4, 1, 2], 0, 'sd1')
  const byte = (v: number) => Math.trunc(Math.fround(Math.min(1, Math.max(0, v * 0.5 + 0.5)) * 255))
  assert.deepEqual([...sd.data], [byte(0.298), byte(0.207), byte(0.208), byte(-0.184), byte(-0.271), byte(-0.473)])
  assert.deepEqual([sd.width, sd.height], [2, 1])
  const xl = cheapPreview(latent, [4, 1, 2], 0, 'sdxl')
  assert.deepEqual([...xl.data], [byte(0.3448), byte(0.4168), byte(0.4395), byte(-0.3730), byte(-0.2499), byte(-0.2088)])
  // the second image of a batch, and clamping at both ends
  const batch = new Float32Array([...latent, 9, -9, 0, 0, 0, 0, 0, 0])
  assert.deepEqual([...cheapPreview(batch, [4, 1, 2], 1, 'sd2').data], [255, 255, 255, 0, 0, 0])
})
