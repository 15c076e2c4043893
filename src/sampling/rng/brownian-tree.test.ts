/*
 * A1111's Brownian-tree noise (README sd1/samplers2 "Noise"): every recorded query (σ, σ_next) of the SDE goldens'
 * noise sampler returns the recorded normalised increment bit for bit, including DPM++ SDE's float32 midpoints.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson, refTensors } from '../../../test/golden.ts'
import { brownianNoiseSampler } from './brownian-tree.ts'
import { SeedSequence } from './seed-sequence.ts'

interface Entry { key: string; seed: number; height: number; width: number; brownian_draws: number }

test('Brownian tree: every brownian.noise of the SDE goldens, bit for bit', async () => {
  const src = await refTensors('sd1', 'samplers2', 'samplers2_goldens.safetensors')
  const entries = readRefJson<{ samplers: Entry[] }>('sd1', 'samplers2', 'samplers2_goldens.json').samplers.filter((e) => e.brownian_draws > 0)
  assert.equal(entries.length, 8)
  for (const e of entries) {
    const shape = [4, e.height / 8, e.width / 8]
    const n = shape[0] * shape[1] * shape[2]
    const noise = brownianNoiseSampler({ sigmas: await src.readF32(`${e.key}.sigmas`), seeds: [e.seed], shape, source: 'cpu' })
    const queries = await src.readF32(`${e.key}.brownian.sigmas`)
    const expected = await src.readF32(`${e.key}.brownian.noise`)
    assert.equal(queries.length / 2, e.brownian_draws, e.key)
    for (let i = 0; i < e.brownian_draws; i++) {
      assert.deepEqual(noise(queries[2 * i], queries[2 * i + 1]), expected.subarray(i * n, (i + 1) * n), `${e.key} query ${i}`)
    }
  }
})

test('SeedSequence: numpy values (entropy 42, a spawned child at pool size 24, a two-word seed)', () => {
  // numpy 2.4: SeedSequence(42).generate_state(4); (42, spawn_key=(1, 2), pool_size=24) and 2**32 + 42 (two words)
  assert.deepEqual([...new SeedSequence(42).generateState(4)], [3444837047, 2669555309, 2046530742, 3581440988])
  assert.deepEqual([...new SeedSequence(42, { spawnKey: [1, 2], poolSize: 24 }).generateState(2)], [2101547719, 3776121365])
  assert.deepEqual([...new SeedSequence(2 ** 32 + 42).generateState(2)], [3329053876, 3645748255])
})
