import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Graph, GraphBuildError } from './builder.ts'
import * as op from './ops.ts'
import { GraphSession } from './session.ts'

const weights = (m: Record<string, { shape: number[]; data: number[] }>) => ({
  get: (k: string) => new Float32Array(m[k].data),
  shape: (k: string) => m[k].shape,
})

test('a Gemm + Conv + GroupNorm graph runs on onnxruntime and matches hand-computed values', async () => {
  const g = new Graph('probe')
  const x = g.input('x', 'float32', ['batch', 2])
  const w = g.input('layer.weight', 'float32', [3, 2])
  const b = g.input('layer.bias', 'float32', [3])
  g.output('y', op.gemmTransB(g, x, w, b))
  const s = await GraphSession.create(g, { weightKeys: ['layer.weight', 'layer.bias'] })
  const out = await s.run({ x: { shape: [1, 2], data: new Float32Array([1, 2]) } },
    weights({ 'layer.weight': { shape: [3, 2], data: [1, 0, 0, 1, 1, 1] }, 'layer.bias': { shape: [3], data: [0.5, 0, -1] } }))
  assert.deepEqual([...out.y.data], [1.5, 2, 2])
  assert.deepEqual(out.y.shape, [1, 3])
  await s.release()
})

test('GroupNormalization-21 and nearest resize to another value\'s size run', async () => {
  const g = new Graph('gn')
  const x = g.input('x', 'float32', [1, 4, 'h', 'w'])
  const like = g.input('like', 'float32', [1, 4, 'h2', 'w2'])
  const gn = op.groupNorm(g, x, op.constF32(g, [1, 1, 1, 1]), op.constF32(g, [0, 0, 0, 0]), { numGroups: 2, epsilon: 1e-5 })
  g.output('y', op.resizeNearestLike(g, op.upsample2x(g, gn), like))
  const s = await GraphSession.create(g, { weightKeys: [] })
  const data = new Float32Array([0, 2, 0, 2, 1, 1, 3, 3].flatMap((v) => [v, v]))  // [1,4,1,4]... 16 values
  const out = await s.run({
    x: { shape: [1, 4, 2, 2], data },
    like: { shape: [1, 4, 3, 3], data: new Float32Array(36) },
  }, weights({}))
  assert.deepEqual(out.y.shape, [1, 4, 3, 3])
  // group 0 = channels 0,1 holding values {0,0,2,2,0,0,2,2}: mean 1, var 1 → ±1/sqrt(1+1e-5)
  assert.ok(Math.abs(Math.abs(out.y.data[0]) - 1 / Math.sqrt(1 + 1e-5)) < 1e-6)
  await s.release()
})

test('shape errors are raised while building, naming the scope', () => {
  const g = new Graph('bad')
  const x = g.input('x', 'float32', [1, 4, 8, 8])
  const w = g.input('conv.weight', 'float32', [8, 3, 3, 3])
  assert.throws(() => g.scope('input_blocks.0.0', () => op.conv(g, x, w, undefined, { pads: [1, 1, 1, 1] })),
    new GraphBuildError('bad: input_blocks.0.0/Conv: input has 4 channels but the weight [8, 3, 3, 3] expects 3'))
})

test('freezeInputs makes named float32 inputs constants: the session runs without feeding them', async () => {
  const g = new Graph('frozen')
  const x = g.input('x', 'float32', [1, 2])
  const w = g.input('w', 'float32', [2, 2])
  g.output('y', op.matmul(g, x, w))
  g.freezeInputs(new Map([['w', new Float32Array([1, 2, 3, 4])]]))
  assert.deepEqual(g.inputNames(), ['x'])
  assert.throws(() => g.freezeInputs(new Map([['w', new Float32Array(4)]])), /no float32 input "w"/)
  const s = await GraphSession.create(g, { weightKeys: [] })
  const r = await s.run({ x: { shape: [1, 2], data: new Float32Array([1, 1]) } }, { get: () => { throw new Error('no weights fed') }, shape: () => [] })
  await s.release()
  assert.deepEqual([...r.y.data], [4, 6])
})
