/*
 * Input decoding: every pixel format reaches 8-bit pixels, the size bound holds before decode, and A1111's
 * flatten-on-white / create_binary_mask rules. Encoded inputs are made in the test with sharp itself.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sharp from 'sharp'
import { decodeImage, toMaskL, toRgbFlattened } from './read-image.ts'

const raw = (w: number, h: number, channels: 1 | 2 | 3 | 4, px: number[]) => {
  const img = sharp(Buffer.from(Array.from({ length: w * h }, () => px).flat()), { raw: { width: w, height: h, channels } })
  return channels <= 2 ? img.toColourspace('b-w') : img
}

test('PNG RGB 8/16-bit, grey, palette, interlaced, JPEG and WebP decode to 8-bit pixels', async () => {
  const rgb = raw(4, 3, 3, [200, 10, 0])
  const cases: [string, Buffer, number][] = [
    ['png', await rgb.clone().png().toBuffer(), 3],
    ['png16', await rgb.clone().toColourspace('rgb16').png().toBuffer(), 3],
    ['interlaced', await rgb.clone().png({ progressive: true }).toBuffer(), 3],
    ['palette', await rgb.clone().png({ palette: true }).toBuffer(), 3],
    ['webp', await rgb.clone().webp({ lossless: true }).toBuffer(), 3],
    ['grey', await raw(4, 3, 1, [77]).png().toBuffer(), 1],
  ]
  for (const [name, bytes, channels] of cases) {
    const img = await decodeImage(bytes, name)
    assert.deepEqual([img.width, img.height, img.channels], [4, 3, channels], name)
    const expect = channels === 1 ? [77] : [200, 10, 0]
    assert.deepEqual(Array.from(img.data.subarray(0, channels)), expect, name)
  }
  assert.equal((await decodeImage(await rgb.clone().png({ palette: true }).toBuffer(), 'p')).palette, true)
  const jpeg = await decodeImage(await raw(8, 8, 3, [128, 128, 128]).jpeg({ quality: 100 }).toBuffer(), 'j')
  assert.ok(jpeg.data.every((v) => Math.abs(v - 128) <= 1))
})

test('the pixel bound is checked from the header, before decoding', async () => {
  const big = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#000' } }).png().toBuffer()
  await assert.rejects(decodeImage(big, 'bomb.png', { maxPixels: 1000 * 1000 }), {
    name: 'InputError', message: 'bomb.png: it has more than 1000000 pixels. Hint: downscale it first.',
  })
  await assert.rejects(decodeImage(new Uint8Array([1, 2, 3]), 'junk.png'), { name: 'InputError', message: /^junk\.png: it is not a readable PNG, JPEG or WebP picture/ })
})

test('RGBA init pictures are flattened on white with PIL alpha_composite; grey+alpha drops its alpha', async () => {
  const rgba = await decodeImage(await raw(2, 1, 4, [0, 0, 0, 128]).png().toBuffer(), 'a')
  // PIL: out = (0·coef1 + 255·coef2 + 2^14) / 255 with coef1 = 128·255·255·128 / (255·255) = 16384 → 127.
  assert.deepEqual(Array.from(toRgbFlattened(rgba).data), [127, 127, 127, 127, 127, 127])
  const la = await decodeImage(await raw(1, 1, 2, [60, 0]).png().toBuffer(), 'la')
  assert.deepEqual(Array.from(toRgbFlattened(la).data), [60, 60, 60])
})

test('masks: RGBA with real alpha thresholds alpha > 128; RGB uses PIL luma; opaque RGBA is luma too', async () => {
  const alpha = await decodeImage(await sharp(Buffer.from([9, 9, 9, 129, 9, 9, 9, 128]), { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer(), 'm')
  assert.deepEqual(Array.from(toMaskL(alpha).data), [255, 0])
  const rgb = await decodeImage(await raw(1, 1, 3, [255, 0, 0]).png().toBuffer(), 'm')
  assert.deepEqual(Array.from(toMaskL(rgb).data), [76]) // (255·19595 + 32768) >> 16
  const opaque = await decodeImage(await raw(1, 1, 4, [0, 255, 0, 255]).png().toBuffer(), 'm')
  assert.deepEqual(Array.from(toMaskL(opaque).data), [150])
})
