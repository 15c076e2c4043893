import { test } from 'node:test'
import assert from 'node:assert/strict'
import { refTensors } from '../../../test/golden.ts'
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { WeightStore } from '../weights.ts'
import { axisTiles, decodeTiled, DEFAULT_VAE_TILING, type VaeTiling } from './tiled.ts'
import { VAE_PREFIX, VaeDecoderSession } from './vae.ts'

test('axisTiles: the fewest equal tiles of at most maxTile, covering the axis, neighbours overlapping by >= overlap', () => {
  for (const t of [DEFAULT_VAE_TILING, { maxTile: 16, overlap: 4 }, { maxTile: 5, overlap: 1 }] satisfies VaeTiling[]) {
    for (let n = 1; n <= 200; n++) {
      const { size, starts } = axisTiles(n, t)
      assert.ok(size <= t.maxTile || starts.length === 1, `n=${n}: size ${size}`)
      assert.equal(starts[0], 0)
      assert.equal(starts.at(-1)! + size, n, `n=${n}: last tile ends at the axis end`)
      for (let i = 1; i < starts.length; i++) assert.ok(starts[i - 1] + size - starts[i] >= t.overlap, `n=${n}: overlap at tile ${i}`)
      // one tile fewer could not cover n with the required overlaps
      if (starts.length > 1) assert.ok((starts.length - 1) * (t.maxTile - t.overlap) + t.overlap < n, `n=${n}: ${starts.length} tiles is not the fewest`)
    }
  }
})

/** A pointwise "decoder": each latent pixel becomes an s×s block of (z0, z1 − z2, z3 · 2); tiling cannot change it. */
function pointwise(z: HostTensor, s: number): HostTensor {
  const [b, , h, w] = z.shape
  const out = new Float32Array(b * 3 * h * s * w * s)
  const at = (bi: number, c: number, y: number, x: number) => z.data[((bi * 4 + c) * h + y) * w + x]
  for (let bi = 0; bi < b; bi++) {
    for (let y = 0; y < h * s; y++) {
      for (let x = 0; x < w * s; x++) {
        const [ly, lx] = [Math.floor(y / s), Math.floor(x / s)]
        const vals = [at(bi, 0, ly, lx), at(bi, 1, ly, lx) - at(bi, 2, ly, lx), at(bi, 3, ly, lx) * 2]
        vals.forEach((v, c) => { out[((bi * 3 + c) * h * s + y) * w * s + x] = v })
      }
    }
  }
  return { shape: [b, 3, h * s, w * s], data: out }
}

test('decodeTiled blends tiles back into the whole-image result when the decoder is pointwise', async () => {
  const [h, w] = [23, 37]
  const z = { shape: [2, 4, h, w], data: Float32Array.from({ length: 2 * 4 * h * w }, (_, i) => Math.sin(i * 0.37)) }
  const whole = pointwise(z, 4)
  const tiled = await decodeTiled({ z, tiling: { maxTile: 10, overlap: 3 }, scale: 4, channels: 3, decodeTile: async (t) => pointwise(t, 4) })
  assert.deepEqual(tiled.shape, whole.shape)
  for (let i = 0; i < whole.data.length; i++) {
    assert.ok(Math.abs(tiled.data[i] - whole.data[i]) <= 1e-6 * Math.max(1, Math.abs(whole.data[i])), `pixel ${i}: ${tiled.data[i]} vs ${whole.data[i]}`)
  }
})

test('VAE decode: small latents are never tiled by default (bit-identical to tiling "off"); "on" with small tiles changes pixels', async () => {
  const dec = await VaeDecoderSession.create(await WeightStore.load(await refTensors('sd1', 'tiny-sd1.safetensors'), { prefixes: [VAE_PREFIX] }))
  const ref = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  const z = { shape: [...ref.info('vae.decode_nonsq.z').shape], data: await ref.readF32('vae.decode_nonsq.z') }
  const off = await dec.decode(z, { tiling: 'off' })
  assert.deepEqual((await dec.decode(z)).data, off.data)
  // one tile as large as the latent is the whole-image graph run
  assert.deepEqual((await dec.decode(z, { tiling: 'on', tile: { maxTile: 64, overlap: 8 } })).data, off.data)
  const tiled = await dec.decode(z, { tiling: 'on', tile: { maxTile: 6, overlap: 2 } })
  assert.deepEqual(tiled.shape, off.shape)
  assert.notDeepEqual(tiled.data, off.data)
  await assert.rejects(dec.decode(z, { tiling: 'on', tile: { maxTile: 8, overlap: 4 } }),
    new InputError('VAE tiling: expected whole numbers with 0 <= overlap and maxTile > 2 × overlap, got maxTile 8, overlap 4'))
  await dec.release()
})
