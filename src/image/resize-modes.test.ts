/*
 * A1111's resize modes (PIL LANCZOS, BICUBIC fill bands) against the pictures A1111 encoded in the sd1/img2img
 * goldens (`<golden>.init_uint8`, exact), from init.png 96x64 to 64x64.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson, ref, refTensors } from '../../test/golden.ts'
import { readImage, toRgbFlattened } from './read-image.ts'
import { resizeImage, type ResizeMode } from './resize-modes.ts'
import { resample } from './pil-resample.ts'
import { newRaster } from './raster.ts'

interface Entry { name: string; inputs: { resize_mode: ResizeMode; width: number; height: number } }
const entries = readRefJson<{ entries: Entry[] }>('sd1', 'img2img', 'img2img_goldens.json').entries

for (const mode of ['just', 'crop', 'fill'] as const) {
  test(`resize mode '${mode}': the bytes A1111 encodes`, async () => {
    const init = toRgbFlattened(await readImage(ref('sd1', 'img2img', 'init.png')))
    const src = await refTensors('sd1', 'img2img', 'img2img_goldens.safetensors')
    const e = entries.find((x) => x.inputs.resize_mode === mode)
    assert.ok(e)
    const got = resizeImage(mode, init, e.inputs.width, e.inputs.height)
    assert.deepEqual([got.width, got.height, got.channels], [64, 64, 3])
    assert.deepEqual(got.data, new Uint8Array(await src.readRaw(`${e.name}.init_uint8`)))
  })
}

test('resample: a same-size resize copies, a constant image stays constant at any scale and filter', () => {
  const img = newRaster(7, 5, 1)
  img.data.fill(200)
  for (const f of ['lanczos', 'bicubic', 'bilinear'] as const) {
    for (const [w, h] of [[3, 2], [20, 11], [7, 9]]) assert.ok(resample(img, w, h, f).data.every((v) => v === 200), `${f} ${w}x${h}`)
  }
  const copy = resample(img, 7, 5, 'lanczos')
  assert.notEqual(copy.data, img.data)
  assert.deepEqual(copy.data, img.data)
})
