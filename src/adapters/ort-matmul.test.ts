import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createOrtMatmul } from './ort-matmul.ts'
import { matmul } from './tensor-math.ts'
import { randomTensor, rng } from './testing/reference-ops.ts'
import { maxAbsDiff } from '../../test/golden.ts'

test('the onnxruntime matmul backend agrees with the JS product', async () => {
  const backend = await createOrtMatmul(1)
  try {
    for (const [m, k, n] of [[7, 3, 5], [64, 16, 288]]) {
      const a = randomTensor([m, k], rng(m)).data
      const b = randomTensor([k, n], rng(n)).data
      const got = await backend.matmul(a, b, m, k, n)
      assert.equal(got.length, m * n)
      assert.ok(maxAbsDiff(got, matmul(a, b, m, k, n)) < 1e-5)
    }
  } finally {
    await backend.release()
  }
})
