import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson, refTensors } from '../../../test/golden.ts'
import { PhiloxGenerator, philox4x32 } from './philox.ts'

const FILE = ['rng', 'philox.safetensors'] as const
interface Entry { key: string; seed?: number; shape?: number[]; offset?: number; n?: number }
const entries = readRefJson<{ entries: Entry[] }>('rng', 'philox.json').entries

const sameBits = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]))

test('Generator(seed).randn(shape) bit for bit for every seed and shape, incl. seeds 2^32 - 1 and 2^32', async () => {
  const src = await refTensors(...FILE)
  const plain = entries.filter((e) => e.key.startsWith('philox.seed') && !e.key.includes('sequence'))
  assert.equal(plain.length, 35)
  for (const e of plain) assert.ok(sameBits(new PhiloxGenerator(e.seed!).randn(e.shape!), await src.readF32(e.key)), e.key)
})

test('each randn call takes the next offset, whatever its size', async () => {
  const src = await refTensors(...FILE)
  for (const e of entries.filter((x) => x.key.includes('sequence'))) {
    const g = new PhiloxGenerator(e.seed!)
    const got = new Float32Array(768)
    for (let i = 0; i < 3; i++) got.set(g.randn([4, 8, 8]), i * 256)
    assert.ok(sameBits(got, await src.readF32(e.key)), e.key)
  }
  const g = new PhiloxGenerator(42)
  g.randn([1])
  const second = g.randn([4, 8, 8])
  assert.ok(sameBits(second, (await src.readF32('philox.seed42.sequence3x4x8x8')).subarray(256, 512)))
})

test('the integer stage: the four Philox output words for counters (offset, 0, i, 0)', async () => {
  const src = await refTensors(...FILE)
  const raw = entries.filter((e) => e.key.startsWith('philox.raw_uint32'))
  assert.equal(raw.length, 4)
  for (const e of raw) {
    const bytes = await src.readRaw(e.key)
    const expected = new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8) // [4, n]
    const words = new Uint32Array(4)
    for (let i = 0; i < e.n!; i++) {
      philox4x32(e.offset!, i, e.seed! % 2 ** 32, Math.floor(e.seed! / 2 ** 32), words)
      for (let w = 0; w < 4; w++) assert.equal(BigInt(words[w]), expected[w * e.n! + i], `${e.key} word ${w} i ${i}`)
    }
  }
})

test('rejects seeds the NV source cannot take', () => {
  assert.throws(() => new PhiloxGenerator(-1), {
    name: 'InputError',
    message: 'seed -1 is not a whole number in [0, 2^53) for the NV (Philox) random source. '
      + 'Hint: A1111 replaces a seed of -1 by a random seed before drawing noise.',
  })
})
