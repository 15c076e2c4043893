import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, ref, refTensors } from '../../../test/golden.ts'
import { InputError, UnknownModelError } from '../../core/errors.ts'
import { floatToByte } from '../../image/to-uint8.ts'
import { TaesdDecoder, TaesdEncoder } from './session.ts'

const TOL = 1e-4
const golden = async (key: string) => {
  const src = await refTensors('taesd', 'goldens.safetensors')
  return { shape: [...src.info(key).shape], data: await src.readF32(key) }
}

// Both layouts: the torch zip pickle A1111 loads from models/VAE-approx, the safetensors ComfyUI loads.
for (const ext of ['pth', 'safetensors']) {
  test(`TAESD decoder (.${ext}) matches taesd.py on both latents, and A1111's uint8 within 1`, async () => {
    const dec = await TaesdDecoder.load(ref('taesd', `taesd_decoder.${ext}`))
    assert.deepEqual({ ...dec.config, skips: dec.config.skips.some(Boolean) },
      { part: 'decoder', prefix: '', latentChannels: 4, width: 64, skips: false })
    for (const s of ['a', 'b']) {
      const latent = await golden(`decoder.latent_${s}`)
      const out = await dec.decodeUnit(latent)
      const expected = await golden(`decoder.out_${s}`)
      assert.deepEqual(out.shape, expected.shape)
      assertClose(out.data, expected.data, TOL, `decoder.out_${s}`)
      // decode() gives the full VAE's [-1, 1] range; A1111's conversion of it is the golden uint8 (HWC)
      const image = await dec.decode(latent)
      const u8 = await golden(`decoder.uint8_${s}`)
      const [b, , h, w] = image.shape
      let worst = 0
      for (let n = 0; n < b; n++) for (let c = 0; c < 3; c++) for (let p = 0; p < h * w; p++) {
        const got = floatToByte(image.data[(n * 3 + c) * h * w + p])
        worst = Math.max(worst, Math.abs(got - u8.data[(n * h * w + p) * 3 + c]))
      }
      assert.ok(worst <= 1, `decoder.uint8_${s}: off by ${worst}`)
    }
    await assert.rejects(dec.decodeUnit({ shape: [1, 3, 8, 8], data: new Float32Array(192) }),
      new InputError('TAESD decode: expected [B, 4, H, W], got [1, 3, 8, 8]'))
    await dec.release()
  })

  test(`TAESD encoder (.${ext}) matches taesd.py`, async () => {
    const enc = await TaesdEncoder.load(ref('taesd', `taesd_encoder.${ext}`))
    const image = await golden('encoder.image')
    const expected = await golden('encoder.out')
    const out = await enc.encodeUnit(image)
    assert.deepEqual(out.shape, expected.shape)
    assertClose(out.data, expected.data, TOL, 'encoder.out')
    // encode() takes the full VAE's [-1, 1] input
    assertClose((await enc.encode({ shape: image.shape, data: image.data.map((v) => v * 2 - 1) })).data, expected.data, TOL, 'encode([-1, 1])')
    await enc.release()
  })
}

test('a TAESD half of the wrong kind is refused naming the tensors looked for', async () => {
  await assert.rejects(TaesdDecoder.load(ref('taesd', 'taesd_encoder.safetensors')), (e: unknown) => {
    assert.ok(e instanceof UnknownModelError)
    assert.equal(e.message, 'taesd_encoder.safetensors: is not a TAESD decoder: expected tensors "1.weight" and "19.weight" '
      + '(the layers of madebyollin/taesd\'s Decoder). Hint: taesd_decoder.pth / taesdxl_decoder.safetensors hold one half '
      + 'each; the other half\'s file cannot stand in.')
    return true
  })
})
