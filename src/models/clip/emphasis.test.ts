import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose } from '../../../test/golden.ts'
import { applyEmphasis } from './emphasis.ts'

// z = [[1, 2], [3, 4]] ([tokens 2, dim 2]), multipliers [1, 2]:
// weighted = [[1, 2], [6, 8]]; mean before 10/4 = 2.5, after 17/4; Original rescales by 2.5 / 4.25 = 10/17.
const z = Float32Array.from([1, 2, 3, 4])

test("'Original' weights each token row, then restores the mean of the chunk", () => {
  const out = applyEmphasis(z, [1, 2], 'Original')
  assertClose(out, [10 / 17, 20 / 17, 60 / 17, 80 / 17], 1e-6, 'emphasised z')
  assertClose([out.reduce((a, b) => a + b, 0) / 4], [2.5], 1e-6, 'mean')
  assert.deepEqual([...z], [1, 2, 3, 4], 'input untouched')
})

test("'No norm' only weights; 'Ignore' and 'None' leave z as it is", () => {
  assert.deepEqual([...applyEmphasis(z, [1, 2], 'No norm')], [1, 2, 6, 8])
  assert.deepEqual([...applyEmphasis(z, [1, 2], 'Ignore')], [1, 2, 3, 4])
  assert.deepEqual([...applyEmphasis(z, [1, 2], 'None')], [1, 2, 3, 4])
})

test('weights of 1 change nothing; products are float32', () => {
  assert.deepEqual([...applyEmphasis(z, [1, 1], 'Original')], [1, 2, 3, 4])
  const out = applyEmphasis(Float32Array.from([1, 1]), [1.1, 1], 'No norm')
  assert.equal(out[0], Math.fround(1.1))
})

test('z must have one row per multiplier', () => {
  assert.throws(() => applyEmphasis(Float32Array.from([1, 2, 3]), [1, 2], 'Original'), {
    name: 'ShapeMismatchError',
    message: 'text-encoder output: tensor "z": expected [2, -1], found [3]. '
      + 'Hint: z must hold one row of encoder output per multiplier ([77, dim] for one chunk).',
  })
})
