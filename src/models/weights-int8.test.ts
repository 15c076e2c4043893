/*
 * WeightStore's int8 weights (graph/int8-weights.ts): quantized as read, served as int8 to graphs and as float32
 * copies to adapters; a patch of an int8 weight is fed quantized and clearing it restores the codes; a one-shot merge
 * (commit) quantizes the merged values again; drop forgets int8 weights too. Expected codes come from quantizeRows'
 * definition computed here (round(w / (max|row| / 127))).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WeightStore } from './weights.ts'
import { quantizeRows, dequantizeRows } from '../graph/int8-weights.ts'

const W = new Float32Array([0.5, -1.27, 0.01, 0, 0, 0, 2, 1, -2])    // rows: max 1.27, all-zero, max 2

test('quantizeRows: symmetric per row, an all-zero row keeps scale 1 and exact zeros', () => {
  const { q, scale } = quantizeRows(W, 3)
  assert.deepEqual([...scale], [Math.fround(1.27 / 127), 1, Math.fround(2 / 127)])
  assert.deepEqual([...q], [50, -127, 1, 0, 0, 0, 127, 64, -127])      // 0.5/0.01 = 50, 1/(2/127) = 63.5 → 64
  const back = dequantizeRows({ q, scale })
  for (let i = 0; i < W.length; i++) assert.ok(Math.abs(back[i] - W[i]) <= scale[Math.floor(i / 3)] / 2 + 1e-7)
})

test('WeightStore int8: int8 served to graphs, float32 copies to adapters, patches quantized, commit and drop', () => {
  const store = new WeightStore('mem')
  store.setInt8('w', [3, 3], quantizeRows(W, 3))
  store.set('b', [3], new Float32Array([1, 2, 3]))
  assert.equal(store.isInt8('w'), true)
  assert.equal(store.isInt8('b'), false)
  assert.deepEqual([...store.keys()].sort(), ['b', 'w'])
  assert.equal(store.heldBytes(), 9 + 3 * 4 + 3 * 4)
  const codes = store.int8('w')!
  const copy = store.getBase('w')
  assert.notEqual(copy, store.getBase('w'), 'each call gives a fresh float32 copy')
  assert.deepEqual([...copy], [...dequantizeRows(codes)])

  const patched = new Float32Array(W).map((v) => v * 0.5)
  store.setPatches(new Map([['w', patched]]))
  assert.deepEqual([...store.int8('w')!.q], [...quantizeRows(patched, 3).q])
  const same = store.int8('w')
  store.setPatches(new Map([['w', patched]]))
  assert.equal(store.int8('w'), same, 'an unchanged patch is not quantized again')
  store.setPatches(new Map())
  assert.equal(store.int8('w'), codes, 'clearing the patches gives back the loaded codes')

  const merged = store.getBase('w').map((v) => v + 0.25)
  store.commit('w', merged)
  assert.deepEqual([...store.int8('w')!.q], [...quantizeRows(merged, 3).q])
  assert.equal(store.drop(['w']), 1)
  assert.equal(store.has('w'), false)
  assert.equal(store.int8('w'), undefined)
})
