import { test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError } from '../core/errors.ts'
import { attentionBytesLowerBound, checkSize, DEFAULT_MAX_PIXELS, maxPixelsOf } from './size-limits.ts'

const GiB = 2 ** 30

test('the attention lower bound is the smallest family\'s [2B, heads, N, N] float32 scores', () => {
  // 512²: SDXL N = 512²/16² = 1024 tokens, 10 heads; SD2 N = 4096, 5 heads; SD1 N = 4096, 8 heads
  const sdxl = 2 * 1 * 10 * 1024 * 1024 * 4
  const sd2 = 2 * 1 * 5 * 4096 * 4096 * 4
  assert.equal(attentionBytesLowerBound(512, 512, 1), Math.min(sdxl, sd2))
  assert.equal(attentionBytesLowerBound(512, 512, 3), 3 * sdxl)
})

test('100000×100000 is refused by --max-pixels, and by memory when the limit is raised', () => {
  assert.throws(() => checkSize({ width: 100000, height: 100000 }), (e: unknown) => e instanceof InputError
    && e.message === `100000×100000 is 10000000000 pixels, over --max-pixels ${DEFAULT_MAX_PIXELS}; generate smaller and upscale (--hires-scale), or raise --max-pixels if this machine has the memory`)
  // N = 1e10/256 tokens: 2·10·N²·4 bytes ≈ 1.2e17 bytes
  assert.throws(() => checkSize({ width: 100000, height: 100000 }, 1e11, 64 * GiB),
    { message: /^100000×100000 cannot fit: the UNet's attention alone needs at least \d+ GB per step, this machine has 64 GB; generate smaller/ })
})

test('native and ordinary sizes pass; a hires pass is checked at its own size; batches multiply', () => {
  checkSize({}, DEFAULT_MAX_PIXELS, 1 * GiB)
  checkSize({ width: 1024, height: 1024 }, DEFAULT_MAX_PIXELS, 16 * GiB)
  checkSize({ width: 768 }, DEFAULT_MAX_PIXELS, 16 * GiB)
  assert.throws(() => checkSize({ width: 1536, height: 1536, hires: {} }), { message: /^3072×3072 is 9437184 pixels, over --max-pixels/ })
  assert.throws(() => checkSize({ width: 1024, height: 1024, hires: { resize: { width: 4096, height: 0 } } }), { message: /^4096×4096 is/ })
  const one = attentionBytesLowerBound(2048, 2048, 1)
  checkSize({ width: 2048, height: 2048 }, DEFAULT_MAX_PIXELS, one)
  assert.throws(() => checkSize({ width: 2048, height: 2048, batchSize: 2 }, DEFAULT_MAX_PIXELS, one), { message: /^2048×2048 × 2 cannot fit/ })
})

test('--max-pixels must be positive', () => {
  assert.equal(maxPixelsOf(undefined), DEFAULT_MAX_PIXELS)
  assert.equal(maxPixelsOf(10), 10)
  assert.throws(() => maxPixelsOf(0), { message: '--max-pixels must be a positive whole number, got 0' })
})
