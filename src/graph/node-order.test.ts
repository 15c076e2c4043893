import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serializedNodeOrder } from './node-order.ts'
import type { NodeData, ValueInfo } from './proto.ts'
import { Graph } from './builder.ts'
import * as op from './ops.ts'
import { GraphSession } from './session.ts'
import { scaleInputName } from './int8-weights.ts'

const node = (opType: string, name: string, inputs: string[], outputs: string[]): NodeData => ({ opType, domain: '', name, inputs, outputs, attrs: {} })
const out = (name: string): ValueInfo => ({ name, dtype: 'float32', shape: [1] })
const codes: ValueInfo[] = [{ name: 'w', dtype: 'int8', shape: [2, 3] }]

// A Linear with an int8 weight as ops.transpose leaves it: the DequantizeLinear `bind` made (now unused), the
// activation's producer, then the transposed codes' DequantizeLinear and its consumer.
const unusedDq = node('DequantizeLinear', 'dq_bound', ['w', 'w#scale'], ['w_f32'])
const norm = node('LayerNormalization', 'norm', ['x', 'g', 'b'], ['h'])
const tq = node('Transpose', 'tq', ['w'], ['wT'])
const dq = node('DequantizeLinear', 'dq_t', ['wT', 'w#scale'], ['wT_f32'])
const mm = node('MatMul', 'mm', ['h', 'wT_f32'], ['y0'])
const id = node('Identity', 'id', ['y0'], ['y'])

test('int8 graphs: unused nodes dropped, weight dequantization (with its int8 Transpose) first, the rest as built', () => {
  const order = serializedNodeOrder([unusedDq, norm, tq, dq, mm, id], [out('y')], codes)
  assert.deepEqual(order.map((n) => n.name), ['tq', 'dq_t', 'norm', 'mm', 'id'])
})

test('a DequantizeLinear of an activation stays where it was built', () => {
  const act = node('DequantizeLinear', 'dq_act', ['h8', 's'], ['h'])
  const cast = node('Cast', 'cast', ['x'], ['h8'])
  const order = serializedNodeOrder([cast, act, tq, dq, node('MatMul', 'mm', ['h', 'wT_f32'], ['y'])], [out('y')], codes)
  assert.deepEqual(order.map((n) => n.name), ['tq', 'dq_t', 'cast', 'dq_act', 'mm'])
})

test('float32-only graphs are serialized exactly as built (the same list, unused nodes included)', () => {
  const nodes = [node('Relu', 'unused', ['x'], ['r']), node('Identity', 'id', ['x'], ['y'])]
  assert.equal(serializedNodeOrder(nodes, [out('y')]), nodes)
})

test('a transposed int8 weight computes x · Wᵀ from the reordered graph, the bound DequantizeLinear gone', async () => {
  const g = new Graph('linear-int8')
  const x = g.input('x', 'float32', [1, 3])
  const w = op.dequantizeLinear(g, g.input('l.weight', 'int8', [2, 3]), g.input(scaleInputName('l.weight'), 'float32', [2]), 0)
  g.output('y', op.matmul(g, op.relu(g, x), op.transpose(g, w, [1, 0])))
  assert.equal(g.opHistogram().DequantizeLinear, 2, 'bind-time and transposed DequantizeLinear both built')
  const s = await GraphSession.create(g, { weightKeys: ['l.weight'] })
  const q = { q: new Int8Array([1, -2, 3, 4, 0, -1]), scale: new Float32Array([0.5, 0.25]) }
  const weights = { get: (): Float32Array => { throw new Error('float32 read of an int8 weight') }, shape: () => [2, 3], int8: () => q }
  const r = await s.run({ x: { shape: [1, 3], data: new Float32Array([1, -1, 2]) } }, weights)
  await s.release()
  // relu(x) = [1, 0, 2]; rows 0.5·[1, -2, 3] and 0.25·[4, 0, -1].
  assert.deepEqual([...r.y.data], [0.5 * (1 + 6), 0.25 * (4 - 2)])
})

test('float16 weights: the Cast of a half input (with its half Transpose) goes first; a transposed half weight computes x · Wᵀ', async () => {
  const g = new Graph('linear-f16')
  const x = g.input('x', 'float32', [1, 3])
  const w = op.widenWeight(g, g.input('l.weight', 'float16', [2, 3]))
  g.output('y', op.matmul(g, op.relu(g, x), op.transpose(g, w, [1, 0])))
  const s = await GraphSession.create(g, { weightKeys: ['l.weight'] })
  // half bits of [1, -2, 3] and [0.5, 0, -1]
  const half = new Uint16Array([0x3c00, 0xc000, 0x4200, 0x3800, 0x0000, 0xbc00])
  const weights = { get: (): Float32Array => { throw new Error('float32 read of a float16 weight') }, shape: () => [2, 3], float16: () => half }
  const r = await s.run({ x: { shape: [1, 3], data: new Float32Array([1, -1, 2]) } }, weights)
  await s.release()
  assert.deepEqual([...r.y.data], [1 + 6, 0.5 - 2])
  const order = serializedNodeOrder(
    [node('Relu', 'relu', ['x'], ['h']), node('Transpose', 'th', ['w16'], ['wT16']), node('Cast', 'cast', ['wT16'], ['wT']), node('MatMul', 'mm', ['h', 'wT'], ['y'])],
    [out('y')], [{ name: 'w16', dtype: 'float16', shape: [2, 3] }])
  assert.deepEqual(order.map((n) => n.name), ['th', 'cast', 'relu', 'mm'])
})

test('w8a8: the sign flip and uint8 Cast of a conv weight\'s codes go first; the activation quantization stays in place', () => {
  const nodes = [
    node('Relu', 'relu', ['x'], ['h']),
    node('DynamicQuantizeLinear', 'dql', ['h'], ['hq', 'hs', 'hz']),
    node('BitwiseXor', 'flip', ['w', 'c128'], ['wf']),
    node('Cast', 'u8', ['wf'], ['wu']),
    node('ConvInteger', 'conv', ['hq', 'wu', 'hz', 'z128'], ['y']),
  ]
  const order = serializedNodeOrder(nodes, [out('y')], codes)
  assert.deepEqual(order.map((n) => n.name), ['flip', 'u8', 'relu', 'dql', 'conv'])
})
