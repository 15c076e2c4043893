import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AUTO_MATMUL, ORT_MIN_FLOPS, createOrtMatmul } from './ort-matmul.ts'
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

test('the default backend sends large products to onnxruntime and keeps small ones in JS', async () => {
  const [m, k, n] = [256, 128, 256]
  assert.ok(m * k * n >= ORT_MIN_FLOPS)
  const a = randomTensor([m, k], rng(1)).data
  const b = randomTensor([k, n], rng(2)).data
  assert.ok(maxAbsDiff(await AUTO_MATMUL.matmul(a, b, m, k, n), matmul(a, b, m, k, n)) < 1e-5)
  assert.deepEqual(await AUTO_MATMUL.matmul(a, b, 2, 2, 2), matmul(a, b, 2, 2, 2))
})
