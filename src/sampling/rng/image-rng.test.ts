import { test } from 'node:test'
import assert from 'node:assert/strict'
import { refTensors } from '../../../test/golden.ts'
import { ImageRng, batchSeeds, createGenerator } from './image-rng.ts'

const PHILOX = ['rng', 'philox.safetensors'] as const
const SD1 = ['sd1', 'goldens', 'sd1_goldens.safetensors'] as const
const sameBits = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]))

test('a batch holds one generator per image: first() then next() (NV source)', async () => {
  const src = await refTensors(...PHILOX)
  const rng = new ImageRng({ shape: [4, 8, 8], seeds: [42, 43], source: 'nv' })
  assert.ok(sameBits(rng.next(), await src.readF32('philox.batch.seeds42_43.first')))
  assert.ok(sameBits(rng.next(), await src.readF32('philox.batch.seeds42_43.second')))
})

test("'gpu' (the default) draws the NV Philox stream", async () => {
  const src = await refTensors(...PHILOX)
  const rng = new ImageRng({ shape: [4, 8, 8], seeds: [0] })
  assert.equal(rng.source, 'gpu')
  const seq = await src.readF32('philox.seed0.sequence3x4x8x8')
  for (let i = 0; i < 3; i++) assert.ok(sameBits(rng.next(), seq.subarray(i * 256, (i + 1) * 256)), `draw ${i}`)
})

test('CPU source: the initial noise and the ancestral draws of the sd1 sampler goldens', async () => {
  const src = await refTensors(...SD1)
  const rng = new ImageRng({ shape: [4, 8, 8], seeds: [42], source: 'cpu' })
  const seq = await src.readF32('rng.seed42.sequence3x4x8x8')
  assert.ok(sameBits(rng.next(), await src.readF32('sample.euler_ancestral.64x64.noise')))
  assert.ok(sameBits(rng.next(), seq.subarray(256, 512)))
  const tall = new ImageRng({ shape: [4, 12, 8], seeds: [1234], source: 'cpu' })
  assert.ok(sameBits(tall.first(), await src.readF32('sample.euler.h96w64.noise')))
})

test('ENSD: draws after the first come from generators seeded seed + ENSD', async () => {
  const src = await refTensors(...PHILOX)
  const rng = new ImageRng({ shape: [4, 8, 8], seeds: [0], source: 'nv', ensd: 42 })
  assert.ok(sameBits(rng.first(), await src.readF32('philox.seed0.4x8x8')))
  assert.ok(sameBits(rng.next(), await src.readF32('philox.seed42.4x8x8')))
})

test('seed + i: image i of a batch gets the noise of a single run with its seed', () => {
  assert.deepEqual(batchSeeds(4294967295, 2), [4294967295, 4294967296])
  assert.deepEqual(batchSeeds(10, 2, 4), [14, 15])
  for (const source of ['cpu', 'nv'] as const) {
    const batch = new ImageRng({ shape: [4, 3, 5], seeds: batchSeeds(7, 2), source })
    const single = new ImageRng({ shape: [4, 3, 5], seeds: [8], source })
    for (let k = 0; k < 3; k++) assert.ok(sameBits(batch.next().subarray(60), single.next()), `${source} draw ${k}`)
  }
  assert.throws(() => createGenerator('cpu', -1), {
    name: 'InputError',
    message: 'seed -1 is not a whole number in [0, 2^53). Hint: pick a seed such as 42; '
      + 'A1111 turns -1 into a random seed before drawing noise.',
  })
})

test('variation seed: strength 0 is the plain noise, 1 the subseed noise, 0.5 a norm-keeping blend', () => {
  const shape = [4, 6, 5]
  const plain = new ImageRng({ shape, seeds: [3], source: 'cpu' }).first()
  const sub = createGenerator('cpu', 9).randn(shape)
  const at = (strength: number) => new ImageRng({ shape, seeds: [3], source: 'cpu', variation: { subseeds: [9], strength } }).first()
  assert.deepEqual(at(0), plain)
  assert.ok(at(1).every((v, i) => Math.abs(v - sub[i]) < 1e-5))
  const half = at(0.5)
  const colNorm = (x: Float32Array, c: number, w: number) => Math.hypot(...Array.from({ length: 6 }, (_, y) => x[(c * 6 + y) * 5 + w]))
  for (let c = 0; c < 4; c++) {
    for (let w = 0; w < 5; w++) {
      const [a, b, m] = [colNorm(plain, c, w), colNorm(sub, c, w), colNorm(half, c, w)]
      assert.ok(m > Math.min(a, b) * 0.7 && m < Math.max(a, b) * 1.01, `column ${c},${w}`)
    }
  }
})

test('resize seed from: the smaller draw sits centred in the full-size draw of the same seed', () => {
  const rng = new ImageRng({ shape: [4, 8, 6], seeds: [5], source: 'nv', resizeFrom: [4, 4, 4] })
  const got = rng.first()
  const full = createGenerator('nv', 5).randn([4, 8, 6])
  const small = createGenerator('nv', 5).randn([4, 4, 4])
  for (let c = 0; c < 4; c++) {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 6; x++) {
        const inside = y >= 2 && y < 6 && x >= 1 && x < 5
        const expected = inside ? small[(c * 4 + y - 2) * 4 + x - 1] : full[(c * 8 + y) * 6 + x]
        assert.equal(got[(c * 8 + y) * 6 + x], expected, `${c},${y},${x}`)
      }
    }
  }
  // A1111 draws the target-shape noise from the image's generator (rng.py `randn(seed, shape, generator=generator)`),
  // so later (ancestral) draws continue after it.
  const own = createGenerator('nv', 5)
  own.randn([4, 8, 6])
  assert.deepEqual(rng.next(), own.randn([4, 8, 6]), 'next() does not continue after the target-shape draw')
  assert.deepEqual(new ImageRng({ shape: [4, 8, 6], seeds: [5], resizeFrom: [4, 8, 6] }).first(), full)
  assert.throws(() => new ImageRng({ shape: [4, 8, 6], seeds: [5], resizeFrom: [3, 8, 6] }), {
    name: 'InputError', message: 'resizeFrom [3, 8, 6] must be a latent shape [C, h, w] with C = 4.',
  })
})
