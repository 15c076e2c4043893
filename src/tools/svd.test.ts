import { test } from 'node:test'
import assert from 'node:assert/strict'
import { JS_MATMUL } from '../adapters/patch-set.ts'
import { matmul } from '../adapters/tensor-math.ts'
import { randomTensor, rng } from '../adapters/testing/reference-ops.ts'
import { factorSvd, jacobiSvd, randomizedSvd, type Svd } from './svd.ts'

const randomMatrix = (count: number, seed: number): Float32Array => randomTensor([count], rng(seed)).data

/** U·diag(S)·Vt, computed independently of svd.ts. */
function reconstruct(r: Svd): Float32Array {
  const us = Float32Array.from(r.u, (v, i) => v * r.s[i % r.k])
  return matmul(us, r.vt, r.m, r.k, r.n)
}

const relErr = (a: Float32Array, b: Float32Array): number => {
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2 }
  return Math.sqrt(num / den)
}

test('jacobiSvd: a known diagonal-times-rotation matrix gives its singular values, descending', () => {
  const c = Math.cos(0.3)
  const s = Math.sin(0.3)
  // [[c, -s], [s, c]] · diag(1, 3)
  const r = jacobiSvd([c * 1, -s * 3, s * 1, c * 3], 2)
  assert.ok(Math.abs(r.s[0] - 3) < 1e-12 && Math.abs(r.s[1] - 1) < 1e-12, `${r.s}`)
})

test('randomizedSvd recovers an exactly low-rank matrix (rank 5 of 40×70) at rank ≥ 5', async () => {
  const m = 40, n = 70, r = 5
  const d = matmul(randomMatrix(m * r, 1), randomMatrix(r * n, 2), m, r, n)
  const out = await randomizedSvd(d, m, n, 8, { matmul: JS_MATMUL })
  assert.ok(relErr(reconstruct(out), d) < 1e-5)
  assert.ok(out.s[5] < 1e-5 * out.s[0], `singular values past the rank: ${out.s[5]}`)
})

test('randomizedSvd at rank k is close to the optimal rank-k error on a full-rank matrix', async () => {
  const m = 30, n = 50
  const d = randomMatrix(m * n, 3)
  const full = await randomizedSvd(d, m, n, 30, { matmul: JS_MATMUL })
  assert.ok(relErr(reconstruct(full), d) < 1e-5, 'full rank reconstructs')
  const k = 10
  const approx = await randomizedSvd(d, m, n, k, { matmul: JS_MATMUL })
  const tail = Math.sqrt(full.s.slice(k).reduce((a, x) => a + x * x, 0) / full.s.reduce((a, x) => a + x * x, 0))
  assert.ok(relErr(reconstruct(approx), d) < tail * 1.05, `error ${relErr(reconstruct(approx), d)} vs optimal ${tail}`)
})

test('factorSvd of up·down equals the product and orders singular values', async () => {
  const m = 24, r = 6, n = 36
  const up = randomMatrix(m * r, 4)
  const down = randomMatrix(r * n, 5)
  const out = await factorSvd(up, down, { m, r, n, k: r }, JS_MATMUL)
  assert.ok(relErr(reconstruct(out), matmul(up, down, m, r, n)) < 1e-5)
  for (let i = 1; i < out.k; i++) assert.ok(out.s[i] <= out.s[i - 1])
})
