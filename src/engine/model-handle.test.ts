import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WeightStore } from '../models/weights.ts'
import { heldBytes } from './model-handle.ts'

test('heldArrays names the arrays as held (half bits, a patch), so the engine counts memory without widening a copy', () => {
  const s = new WeightStore('m.safetensors')
  const file = new Uint16Array(8)                                        // stands for a mapped file: two views of one buffer
  s.setF16('a.weight', [2], file.subarray(0, 2))
  s.setF16('b.weight', [2], file.subarray(4, 6))
  let widened = 0
  const get = s.get.bind(s)
  s.get = (k: string) => { widened++; return get(k) }
  s.getBase = (k: string) => { widened++; return get(k) }
  assert.deepEqual(s.heldArrays('a.weight'), [file.subarray(0, 2)])
  assert.equal(heldBytes(s), 16, 'the shared buffer once')
  const patch = new Float32Array([1, 2])
  s.setPatches(new Map([['a.weight', patch]]))
  assert.deepEqual(s.heldArrays('a.weight'), [file.subarray(0, 2), patch])
  assert.equal(heldBytes(s), 16 + 8)
  assert.equal(widened, 0)
})
