import { test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError } from '../core/errors.ts'
import type { Img2ImgGeneration } from './contract.ts'
import { requestFromJson, requestToJson } from './request-json.ts'
import { validateRequest } from './validate.ts'

const rgb = (width: number, height: number) => ({ width, height, data: new Uint8Array(width * height * 3).map((_, i) => i % 251) })
const grey = (width: number, height: number) => ({ width, height, data: new Uint8Array(width * height).fill(255) })

const IMG2IMG: Img2ImgGeneration = {
  mode: 'img2img', model: 'm.safetensors', prompt: 'a cat', init: rgb(4, 2), denoisingStrength: 0.3, resizeMode: 'crop',
  inpaint: { mask: grey(4, 2), maskBlur: 0, invertMask: true, fill: 'latent-noise', onlyMasked: { padding: 8 } },
  subseed: 7, subseedStrength: 0.25, seedResizeFrom: { width: 64, height: 128 },
}

/** The [code, path] of every issue a request raises. */
function issuesOf(input: unknown): string[][] {
  try {
    validateRequest(input)
  } catch (e) {
    assert.ok(e instanceof InputError)
    return e.issues.map((i) => [i.code, i.path.join('.')])
  }
  return []
}

test('an img2img request with inpainting and variation seeds validates to itself', () => {
  assert.deepEqual(validateRequest(IMG2IMG), IMG2IMG)
  const plain = { mode: 'img2img', model: 'm', prompt: '', init: rgb(1, 1) }
  assert.deepEqual(validateRequest(plain), plain)
  assert.deepEqual(validateRequest({ ...plain, seedResizeFrom: { width: -1, height: -1 } }).seedResizeFrom, { width: -1, height: -1 })
})

test('pixel buffers must hold exactly width × height × channels bytes, within the size bound', () => {
  assert.deepEqual(issuesOf({ ...IMG2IMG, init: { width: 4, height: 2, data: new Uint8Array(23) } }), [['size', 'init.data']])
  assert.throws(() => validateRequest({ ...IMG2IMG, init: { width: 4, height: 2, data: new Uint8Array(23) } }),
    { message: 'init.data holds 23 bytes; 4x2 8-bit RGB picture needs 4 × 2 × 3 = 24' })
  assert.deepEqual(issuesOf({ ...IMG2IMG, inpaint: { mask: rgb(4, 2) } }), [['size', 'inpaint.mask.data']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, init: { width: 9000, height: 9000, data: new Uint8Array(0) } }), [['range', 'init.width'], ['size', 'init.data']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, init: { width: 0.5, height: 2, data: [1, 2], extra: 1 } }), [['type', 'init.width'], ['unrecognized', 'init.extra'], ['type', 'init.data']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, init: undefined }), [['required', 'init']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, init: 'data:image/png;base64,' }), [['type', 'init']])
})

test('img2img fields are range-checked and named; mode-specific fields are refused on the other mode', () => {
  assert.deepEqual(issuesOf({ ...IMG2IMG, denoisingStrength: 0 }), [['range', 'denoisingStrength']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, denoisingStrength: 1.5, resizeMode: 3 }), [['type', 'resizeMode'], ['range', 'denoisingStrength']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, inpaint: { ...IMG2IMG.inpaint, maskBlur: 300, fill: 'noise', onlyMasked: { padding: -1 }, colour: 1 } }),
    [['enum', 'inpaint.fill'], ['range', 'inpaint.maskBlur'], ['unrecognized', 'inpaint.colour'], ['range', 'inpaint.onlyMasked.padding']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, inpaint: { mask: grey(2, 2), onlyMasked: {} } }), [['size', 'inpaint.mask']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, inpaint: undefined, resizeMode: 'latent', init: rgb(16, 8) }), [])
  assert.deepEqual(issuesOf({ ...IMG2IMG, inpaint: undefined, resizeMode: 'latent' }), [['multiple-of-8', 'init']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, resizeMode: 'latent', init: rgb(8, 8), inpaint: { mask: grey(8, 8) } }), [['unsupported', 'resizeMode']])
  assert.deepEqual(issuesOf({ ...IMG2IMG, hires: { scale: 2 } }), [['unrecognized', 'hires']])
  assert.deepEqual(issuesOf({ mode: 'txt2img', model: 'm', prompt: '', init: rgb(1, 1), denoisingStrength: 0.5 }), [['unrecognized', 'init'], ['unrecognized', 'denoisingStrength']])
})

test('variation seeds: strength in [0, 1], subseed -1 or >= 0, seedResizeFrom multiples of 8 (<= 0: off)', () => {
  const t = { mode: 'txt2img', model: 'm', prompt: '' }
  assert.deepEqual(issuesOf({ ...t, subseedStrength: 1.2, subseed: -2 }), [['range', 'subseedStrength'], ['range', 'subseed']])
  assert.deepEqual(issuesOf({ ...t, subseed: 1.5 }), [['type', 'subseed']])
  assert.deepEqual(issuesOf({ ...t, seedResizeFrom: { width: 60, height: 64 } }), [['range', 'seedResizeFrom']])
  assert.deepEqual(issuesOf({ ...t, seedResizeFrom: { width: 64 } }), [['required', 'seedResizeFrom.height']])
  assert.deepEqual(issuesOf({ ...t, seedResizeFrom: '64x64' }), [['type', 'seedResizeFrom']])
  assert.deepEqual(validateRequest({ ...t, subseed: -1, subseedStrength: 1, seedResizeFrom: { width: 0, height: 0 } }).subseedStrength, 1)
})

test('an img2img request round-trips through JSON text (pixels as base64) to an equal, validated request', () => {
  const text = requestToJson(IMG2IMG)
  assert.match(text, /"init":\{"width":4,"height":2,"data":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"\}/)
  const again = requestFromJson(text)
  assert.deepEqual(again, IMG2IMG)
  assert.ok(again.mode === 'img2img' && again.init.data instanceof Uint8Array)
  assert.deepEqual(requestFromJson(requestToJson({ mode: 'txt2img', model: 'm', prompt: 'p', hires: { scale: 2 } })), { mode: 'txt2img', model: 'm', prompt: 'p', hires: { scale: 2 } })
  assert.throws(() => requestFromJson(text.replace('AAECAwQF', 'AAEC*wQF')), { message: 'init.data must be base64 (the bytes of the picture), not AAEC*wQFBgcICQoLDA0O…' })
})
