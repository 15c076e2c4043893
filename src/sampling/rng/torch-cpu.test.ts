import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson, refTensors } from '../../../test/golden.ts'
import { TorchCpuGenerator, torchRandn, torchSeedLow32 } from './torch-cpu.ts'

const GOLDEN = ['sd1', 'goldens', 'sd1_goldens.safetensors'] as const
interface RngEntry { key: string; seed: number; shape?: number[] }
const entries = readRefJson<{ rng: { entries: RngEntry[] } }>('sd1', 'goldens', 'sd1_goldens.json').rng.entries

/** Index of the first element that differs (bit-exact comparison), or -1. */
const firstDiff = (a: Float32Array, b: Float32Array): number => {
  assert.equal(a.length, b.length)
  return a.findIndex((v, i) => !Object.is(v, b[i]))
}

test('torch.manual_seed(s); torch.randn(shape) bit for bit (scalar path < 16, 16-wide AVX2 path >= 16)', async () => {
  const src = await refTensors(...GOLDEN)
  const plain = entries.filter((e) => e.shape !== undefined)
  assert.equal(plain.length, 30)
  for (const e of plain) {
    const got = torchRandn(e.seed, e.shape!)
    assert.equal(firstDiff(got, await src.readF32(e.key)), -1, e.key)
  }
})

test('a generator continues its stream across randn calls, as torch.Generator does', async () => {
  const src = await refTensors(...GOLDEN)
  for (const e of entries.filter((x) => x.key.endsWith('sequence3x4x8x8'))) {
    const g = new TorchCpuGenerator(e.seed)
    const got = new Float32Array(3 * 256)
    for (let i = 0; i < 3; i++) got.set(g.randn([4, 8, 8]), i * 256)
    assert.equal(firstDiff(got, await src.readF32(e.key)), -1, e.key)
  }
})

test('the scalar path caches the second Box-Muller value across calls; manualSeed resets it', async () => {
  const src = await refTensors(...GOLDEN)
  const seven = await src.readF32('rng.seed42.7')
  const g = new TorchCpuGenerator(42)
  const parts = [...g.randn([3]), ...g.randn([4])]
  assert.deepEqual(parts, [...seven])
  g.randn([1])
  assert.deepEqual([...g.manualSeed(42).randn([7])], [...seven])
})

test('only the low 32 bits of the seed count (seed 2^32 gives the noise of seed 0)', async () => {
  const src = await refTensors(...GOLDEN)
  assert.equal(firstDiff(torchRandn(2 ** 32, [1, 4, 8, 8]), await src.readF32('rng.seed0.1x4x8x8')), -1)
  assert.equal(torchSeedLow32(-1), 2 ** 32 - 1)
  assert.throws(() => torchRandn(1.5, [1]), {
    name: 'InputError',
    message: 'seed 1.5 is not an integer in ±2^53. Hint: seeds are whole numbers such as 42 or 4294967296.',
  })
})
