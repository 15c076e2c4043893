import { test } from 'node:test'
import assert from 'node:assert/strict'
import { refTensors } from '../../../test/golden.ts'
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { WeightStore } from '../weights.ts'
import { AUTO_TILE_ABOVE, axisTiles, decodeTiled, DEFAULT_VAE_TILING, encodeTiled, SMALL_VAE_TILING, type VaeTiling } from './tiled.ts'
import { VAE_PREFIX, VaeDecoderSession, VaeEncoderSession, vaeTilingFor } from './vae.ts'

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

/** A pointwise "encoder": each s×s block becomes one latent pixel of (block mean of c0, c1 at its top-left, c2 · 3); tiles on the latent grid cannot change it. */
function blockwise(img: HostTensor, s: number): HostTensor {
  const [b, , H, W] = img.shape
  const [h, w] = [H / s, W / s]
  const out = new Float32Array(b * 3 * h * w)
  const at = (bi: number, c: number, y: number, x: number) => img.data[((bi * 3 + c) * H + y) * W + x]
  for (let bi = 0; bi < b; bi++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = 0
        for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) sum += at(bi, 0, y * s + dy, x * s + dx)
        const vals = [sum / (s * s), at(bi, 1, y * s, x * s), at(bi, 2, y * s, x * s) * 3]
        vals.forEach((v, c) => { out[((bi * 3 + c) * h + y) * w + x] = v })
      }
    }
  }
  return { shape: [b, 3, h, w], data: out }
}

test('encodeTiled lays tiles on the latent grid and blends them back into the whole-image result when the encoder is blockwise', async () => {
  const [H, W] = [23 * 4, 37 * 4]
  const image = { shape: [2, 3, H, W], data: Float32Array.from({ length: 2 * 3 * H * W }, (_, i) => Math.cos(i * 0.11)) }
  const whole = blockwise(image, 4)
  const tiled = await encodeTiled({ image, tiling: { maxTile: 10, overlap: 3 }, scale: 4, channels: 3, encodeTile: async (t) => blockwise(t, 4) })
  assert.deepEqual(tiled.shape, whole.shape)
  for (let i = 0; i < whole.data.length; i++) {
    assert.ok(Math.abs(tiled.data[i] - whole.data[i]) <= 1e-6 * Math.max(1, Math.abs(whole.data[i])), `latent ${i}: ${tiled.data[i]} vs ${whole.data[i]}`)
  }
})

test('VAE tiling policy (decode and encode alike): "auto" tiles only above 96×96 latents, "on" always with small tiles, "off" never', () => {
  assert.equal(AUTO_TILE_ABOVE, 96 * 96)
  assert.equal(vaeTilingFor({}, 96 * 96), undefined)                     // 768² (SD1/SD2 hires at 1.5×) stays exact
  assert.equal(vaeTilingFor({ tiling: 'auto' }, 64 * 64), undefined)
  assert.deepEqual(vaeTilingFor({}, 96 * 97), DEFAULT_VAE_TILING)
  assert.deepEqual(vaeTilingFor({ tiling: 'auto' }, 128 * 128), DEFAULT_VAE_TILING)   // 1024²: hires 2× of SD1.5
  assert.deepEqual(vaeTilingFor({ tiling: 'on' }, 8 * 8), SMALL_VAE_TILING)
  assert.equal(vaeTilingFor({ tiling: 'off' }, 256 * 256), undefined)
  assert.deepEqual(vaeTilingFor({ tiling: 'on', tile: { maxTile: 20, overlap: 4 } }, 4), { maxTile: 20, overlap: 4 })
})

/**
 * tiny-sd1's VAE, a 256×192 picture (32×24 latent) of smooth waves, tiles of 24 latent pixels overlapping by 8.
 * Measured: mean |Δ| 0.039 and max |Δ| 0.30 against a max |mean| of 1.17; a random tiny VAE has GroupNorms over
 * 32-64 channels and no learned locality, so per-tile statistics move it much more than SD's trained VAE.
 */
test('VAE encode: "auto" below the threshold is the whole-image encode bit for bit; tiled is close to it (posterior mean within the stated bounds)', async () => {
  const enc = await VaeEncoderSession.create(await WeightStore.load(await refTensors('sd1', 'tiny-sd1.safetensors'), { prefixes: [VAE_PREFIX] }))
  const [H, W] = [256, 192]
  const image = {
    shape: [1, 3, H, W],
    data: Float32Array.from({ length: 3 * H * W }, (_, i) => {
      const [c, p] = [Math.floor(i / (H * W)), i % (H * W)]
      return Math.sin((p % W) * 0.05 + c) * Math.cos(Math.floor(p / W) * 0.04) * 0.8
    }),
  }
  const off = await enc.encode(image, { tiling: 'off' })
  const auto = await enc.encode(image)
  assert.deepEqual(auto.mean.data, off.mean.data)
  assert.deepEqual(auto.logvar.data, off.logvar.data)
  const tiled = await enc.encode(image, { tiling: 'on', tile: { maxTile: 24, overlap: 8 } })
  assert.deepEqual(tiled.mean.shape, [1, 4, 32, 24])
  assert.deepEqual(tiled.logvar.shape, [1, 4, 32, 24])
  const scale = Math.max(...off.mean.data.map(Math.abs))
  const diffs = off.mean.data.map((v, i) => Math.abs(tiled.mean.data[i] - v))
  const mean = diffs.reduce((a, d) => a + d, 0) / diffs.length
  assert.ok(mean > 0 && mean <= 0.05 * scale, `mean |Δ| ${mean} vs max |mean| ${scale}`)
  assert.ok(Math.max(...diffs) <= 0.35 * scale, `max |Δ| ${Math.max(...diffs)} vs max |mean| ${scale}`)
  // the logvar is blended the same way and clamped per tile, so it stays within the encoder's clamp
  assert.ok(tiled.logvar.data.every((v) => v >= -30 && v <= 20))
  await enc.release()
})
