/*
 * The picture side of inpainting against A1111's own arrays (sd1/inpaint goldens): the processed mask, the mask
 * for the overlay, the latent mask, the encoded (filled) picture, the crop box, and the final composite of
 * A1111's decoded picture against the golden PNG. Mask blur taps against OpenCV's (JSON `mask_blur`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson, ref, refTensors } from '../../test/golden.ts'
import { readImage, toMaskL, toRgbFlattened } from './read-image.ts'
import { prepareInpaintPicture, type InpaintFill } from './inpaint-prep.ts'
import { applyOverlay, latentMask } from './masking.ts'
import { gaussianTapsFixed, maskBlurKernelSize } from './mask-blur.ts'
import type { Raster } from './raster.ts'

interface Entry {
  name: string
  inputs: { width: number; height: number; mask_blur: number; inpaint_fill: string; inpaint_area: string; masked_padding: number }
  facts: { crop_region?: number[] }
  arrays: Record<string, { same_as?: string }>
}
const json = readRefJson<{ entries: Entry[]; mask_blur: { kernels_raw_over_256: Record<string, number[]> } }>('sd1', 'inpaint', 'inpaint_goldens.json')
const DIR = ['sd1', 'inpaint'] as const
const raw = async (e: Entry, key: string): Promise<Uint8Array> => {
  const src = await refTensors(...DIR, 'inpaint_goldens.safetensors')
  const name = e.arrays[`${e.name}.${key}`]?.same_as ?? `${e.name}.${key}`
  return new Uint8Array(await src.readRaw(name))
}
const maxDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)

test('mask blur taps equal OpenCV 4.6 fixed-point kernels (blur 2, 4, 6)', () => {
  for (const [blur, taps] of Object.entries(json.mask_blur.kernels_raw_over_256)) {
    assert.deepEqual(Array.from(gaussianTapsFixed(maskBlurKernelSize(Number(blur)), Number(blur))), taps, `blur ${blur}`)
  }
})

for (const e of json.entries.filter((x) => !x.name.includes('txt2img'))) {
  test(`inpaint picture ${e.name}: masks, crop box, encoded picture and composite as A1111`, async () => {
    const init = toRgbFlattened(await readImage(ref(...DIR, 'init.png')))
    const mask = toMaskL(await readImage(ref(...DIR, 'mask.png')))
    const i = e.inputs
    const prep = prepareInpaintPicture(init, mask, {
      width: i.width, height: i.height, resizeMode: 'just', maskBlur: i.mask_blur, invertMask: false,
      fill: i.inpaint_fill.replace(' ', '-') as InpaintFill,
      ...(i.inpaint_area === 'masked' ? { onlyMasked: { padding: i.masked_padding } } : {}),
    })
    assert.deepEqual(prep.mask.data, await raw(e, 'mask_processed_uint8'), 'mask_processed_uint8')
    const box = prep.cropBox
    assert.deepEqual(box ? [box.x1, box.y1, box.x2, box.y2] : undefined, e.facts.crop_region)
    assert.deepEqual(prep.picture.data, await raw(e, 'init_uint8'), 'init_uint8')
    const src = await refTensors(...DIR, 'inpaint_goldens.safetensors')
    assert.deepEqual(latentMask(prep.mask, i.width / 8, i.height / 8), await src.readF32(`${e.name}.latent_mask`))
    const overlayAlpha = Uint8Array.from({ length: prep.overlay.width * prep.overlay.height }, (_, p) => 255 - prep.overlay.data[p * 4 + 3])
    assert.deepEqual(overlayAlpha, await raw(e, 'mask_for_overlay_uint8'), 'overlay alpha = 255 - mask_for_overlay')
    const decoded: Raster = { width: i.width, height: i.height, channels: 3, data: await raw(e, 'decoded_uint8') }
    const out = applyOverlay(decoded, prep.overlay, box)
    const png = await readImage(ref(...DIR, `${e.name}.png`))
    assert.deepEqual([out.width, out.height], [png.width, png.height])
    assert.ok(maxDiff(out.data, png.data) <= (box ? 2 : 1), `composite vs PNG: ${maxDiff(out.data, png.data)}`)
  })
}
