/** The img2img tab's request fields (A1111 img2img/inpaint names and encodings) and its gallery query. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { galleryQuery } from '../web/src/gallery-query.ts'
import { IMG2IMG_DEFAULTS, img2imgFields, MASKED_CONTENT, RESIZE_MODES, snapSize } from '../web/src/img2img-params.ts'

test('img2img fields: no picture is an error naming init_images; inpaint fields go only with a mask, in A1111 encodings', () => {
  assert.throws(() => img2imgFields(IMG2IMG_DEFAULTS, undefined), { field: 'init_images', message: /^Choose a picture to start from first/ })
  const image = { png: 'iVBOR', width: 96, height: 72, name: 'a.png' }
  assert.deepEqual(img2imgFields({ ...IMG2IMG_DEFAULTS, image }, undefined), { init_images: ['iVBOR'], denoising_strength: 0.75, resize_mode: 0 })
  assert.deepEqual(img2imgFields({ ...IMG2IMG_DEFAULTS, image, denoise: 0.3, resizeMode: 2, maskedContent: 3, onlyMasked: true, padding: 8, invertMask: true, maskBlur: 0 }, 'MASK'), {
    init_images: ['iVBOR'], denoising_strength: 0.3, resize_mode: 2, mask: 'MASK', mask_blur: 0, inpainting_fill: 3, inpaint_full_res: true,
    inpaint_full_res_padding: 8, inpainting_mask_invert: 1,
  })
  // A1111's option order is its API's numbering (modules/ui.py: resize_mode radio, inpainting_fill radio).
  assert.deepEqual([RESIZE_MODES.indexOf('Resize and fill'), MASKED_CONTENT.indexOf('latent noise')], [2, 2])
  assert.deepEqual([snapSize(72), snapSize(97), snapSize(20), snapSize(1000)], [72, 96, 64, 1000])
})

test('the gallery query: text trimmed, dates as local-day bounds (the "to" day included), the cursor as before', () => {
  assert.equal(galleryQuery({ query: ' fox ', from: '', to: '' }), '/sdloom/v1/images?limit=100&saved=true&q=fox')
  const q = new URL(galleryQuery({ query: '', from: '2026-03-01', to: '2026-03-02' }, '123.4'), 'http://x').searchParams
  assert.equal(Number(q.get('since')), new Date(2026, 2, 1).getTime())
  assert.equal(Number(q.get('until')), new Date(2026, 2, 3).getTime())
  assert.equal(q.get('before'), '123.4')
})
