import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HostTensor } from '../core/host-tensor.ts'
import { newRaster, type Raster } from './raster.ts'
import { upscalePatch, upscaleWithModel } from './upscale-tiles.ts'

const picture = (w: number, h: number): Raster => {
  const img = newRaster(w, h, 3)
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37 + (i >> 5) * 11) & 255
  return img
}
/** torch nearest ×2 of [1, 3, h, w]: a pointwise model, so tiling must not change its output anywhere. */
const nearest2 = async (t: HostTensor): Promise<HostTensor> => {
  const [, c, h, w] = t.shape
  const data = new Float32Array(c * 4 * h * w)
  for (let k = 0; k < c; k++) for (let y = 0; y < 2 * h; y++) for (let x = 0; x < 2 * w; x++) data[(k * 2 * h + y) * 2 * w + x] = t.data[(k * h + (y >> 1)) * w + (x >> 1)]
  return { shape: [1, c, 2 * h, 2 * w], data }
}

test('a pointwise model gives the same picture tiled (192/8, 40/8 with several rows and columns) as whole', async () => {
  const img = picture(100, 70)
  const whole = await upscalePatch(img, nearest2)
  assert.equal(whole.width, 200)
  for (const [tileSize, tileOverlap] of [[192, 8], [40, 8], [32, 4]]) {
    const tiled = await upscaleWithModel(img, nearest2, { tileSize, tileOverlap })
    assert.deepEqual(tiled.data, whole.data, `tile ${tileSize} overlap ${tileOverlap}`)
  }
  // uint8 → float32 · (1/255) → ×255 in float32 → truncated gives every byte back
  assert.deepEqual((await upscaleWithModel(img, async (t) => t, { tileSize: 0, tileOverlap: 0 })).data, img.data)
})

test('tiles are blended as A1111 combine_grid does: a linear L ramp r·255/overlap over each tile\'s first columns and rows', async () => {
  // 200×200, tile 192, overlap 8: split_grid gives origins 0 and 8 on both axes (cols = ceil(192/184) = 2, dx = 8)
  const values = [40, 200, 90, 10]                                   // tile (row, col) order: (0,0) (0,1) (1,0) (1,1)
  let call = 0
  const constant = async (t: HostTensor): Promise<HostTensor> => ({ shape: t.shape, data: new Float32Array(t.data.length).fill(values[call++] / 255) })
  const out = await upscaleWithModel(newRaster(200, 200, 3), constant, { tileSize: 192, tileOverlap: 8 })
  assert.equal(call, 4)
  const ramp = [0, 31, 63, 95, 127, 159, 191, 223]                   // uint8(r * 255 / 8)
  const blend = (under: number, over: number, m: number) => Math.round((under * (255 - m) + over * m) / 255)
  const at = (x: number, y: number) => out.data[(y * 200 + x) * 3]
  const rowValue = (left: number, right: number, x: number) => (x < 8 ? left : x < 16 ? blend(left, right, ramp[x - 8]) : right)
  for (const x of [0, 7, 8, 11, 15, 16, 199]) {
    assert.equal(at(x, 0), rowValue(40, 200, x), `row 0, x ${x}`)
    assert.equal(at(x, 199), rowValue(90, 10, x), `row 1, x ${x}`)
    for (const y of [8, 12, 15]) assert.equal(at(x, y), blend(rowValue(40, 200, x), rowValue(90, 10, x), ramp[y - 8]), `x ${x}, y ${y}`)
  }
})

test('a picture smaller than a tile is run as one tile padded with black at the left and top, and cut back', async () => {
  const img = picture(20, 12)
  let seen: readonly number[] = []
  const out = await upscaleWithModel(img, async (t) => { seen = t.shape; return nearest2(t) }, { tileSize: 32, tileOverlap: 4 })
  assert.deepEqual(seen, [1, 3, 32, 32])
  assert.equal(out.width, 40)
  assert.equal(out.height, 24)
  assert.deepEqual(out.data, (await upscalePatch(img, nearest2)).data)
})
