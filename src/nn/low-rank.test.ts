/*
 * Low-rank branches (bypass) equal the merged weight W + Σ scale·(up @ down) on every layer forward that consults the
 * layout: Gemm linear, MatMul linear, 3×3 conv with stride 2 and padding (plain and Tucker `lora_mid` slots), and a
 * linear-shaped LoRA on a 1×1 conv; two slots on one layer; one session serves two ranks (symbolic rank dims).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Graph, GraphBuildError } from '../graph/builder.ts'
import { GraphSession } from '../graph/session.ts'
import type { HostTensor } from '../core/host-tensor.ts'
import { conv2d, conv2dForward, linear, linearForward, linearMatMulForward } from './layers.ts'
import { lowRankInputs, slotInputs, slotShapes, useLowRank, withLowRank, type LowRankLayout, type SlotKind } from './low-rank.ts'
import { bind, paramKeys } from './module.ts'
import { rng, randomTensor } from '../adapters/testing/reference-ops.ts'
import { maxAbsDiff } from '../../test/golden.ts'

/** n values in [-0.5, 0.5) from their own seeded stream. */
const rand = (n: number, seed: number): Float32Array => randomTensor([n], rng(seed), 0.5).data

const TREE = { lin: linear(6, 5), mm: linear(6, 5, false), conv: conv2d(3, 4, 3), pw: conv2d(3, 4, 1) }
const KEYS = paramKeys(TREE, 'm.')
const SHAPES = new Map(KEYS.map((k) => [k.key, k.shape]))
const BASE = new Map(KEYS.map((k, i) => [k.key, rand(k.shape.reduce((a, b) => a * b, 1), 7 + i)]))

/** Every weight layer with `slots` slots; x [2, 3, 6] for the linears, [1, 3, 5, 5] for the convs. */
function build(layout?: LowRankLayout) {
  const g = new Graph('low-rank-test')
  useLowRank(g, layout)
  const p = bind(g, TREE, { file: 'test', has: (k) => SHAPES.has(k), shape: (k) => SHAPES.get(k)! }, 'm.')
  const seq = g.input('seq', 'float32', [2, 3, 6])
  const img = g.input('img', 'float32', [1, 3, 5, 5])
  g.output('lin', linearForward(g, p.lin, seq))
  g.output('mm', linearMatMulForward(g, p.mm, seq))
  g.output('conv', conv2dForward(g, p.conv, img, { pad: 1, stride: 2 }))
  g.output('pw', conv2dForward(g, p.pw, img))
  const bound = KEYS.map((k) => k.key)
  return { g, weightKeys: [...bound, ...lowRankInputs(g, bound)] }
}

interface SlotData { readonly kind: SlotKind; readonly rank: number; readonly down: Float32Array; readonly mid?: Float32Array; readonly up: Float32Array; readonly scale: number }

function slotsFor(key: string, ranks: readonly number[], seed: number, kind: SlotKind = 'low-rank'): SlotData[] {
  const w = SHAPES.get(key)!
  const kk = w.length === 4 ? w[2] * w[3] : 1
  const inner = w.slice(1).reduce((a, b) => a * b, 1)
  return ranks.map((rank, s) => ({
    kind, rank, down: rand(rank * (kind === 'tucker' ? w[1] : inner), seed + 3 * s), up: rand(w[0] * rank, seed + 3 * s + 1), scale: 0.7 - 0.3 * s,
    ...(kind === 'tucker' ? { mid: rand(rank * rank * kk, seed + 3 * s + 2) } : {}),
  }))
}

/** down as [r, in·kk]: the Tucker core folded in (Σ_m mid[r, m, k] · down[m, in]), or down itself. */
function effectiveDown(s: SlotData, inp: number, kk: number): Float64Array {
  if (!s.mid) return Float64Array.from(s.down)
  const d = new Float64Array(s.rank * inp * kk)
  for (let n = 0; n < s.rank; n++) for (let m = 0; m < s.rank; m++) for (let j = 0; j < inp; j++) {
    for (let k = 0; k < kk; k++) d[(n * inp + j) * kk + k] += s.mid[(n * s.rank + m) * kk + k] * s.down[m * inp + j]
  }
  return d
}

/** W + Σ scale · up [out, r] @ down [r, inner], in float64. */
function merged(key: string, slots: readonly SlotData[]): Float32Array {
  const w = Float32Array.from(BASE.get(key)!)
  const shape = SHAPES.get(key)!
  const out = shape[0]
  const inner = w.length / out
  for (const s of slots) {
    const down = effectiveDown(s, shape[1], inner / shape[1])
    for (let o = 0; o < out; o++) {
      for (let j = 0; j < inner; j++) {
        let acc = 0
        for (let r = 0; r < s.rank; r++) acc += s.up[o * s.rank + r] * down[r * inner + j]
        w[o * inner + j] += s.scale * acc
      }
    }
  }
  return w
}

const INPUTS = { seq: { shape: [2, 3, 6], data: rand(36, 99) }, img: { shape: [1, 3, 5, 5], data: rand(75, 98) } }

async function run(layout: LowRankLayout | undefined, weights: ReadonlyMap<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const built = build(layout)
  const session = await GraphSession.create(built.g, { weightKeys: built.weightKeys, threads: 1 })
  try {
    return await session.run(INPUTS, { get: (k) => weights.get(k)!.data, shape: (k) => weights.get(k)!.shape })
  } finally {
    await session.release()
  }
}

function feeds(all: ReadonlyMap<string, SlotData[]>): { bypass: Map<string, HostTensor>; merge: Map<string, HostTensor> } {
  const bypass = new Map<string, HostTensor>(KEYS.map((k) => [k.key, { shape: k.shape, data: BASE.get(k.key)! }]))
  const merge = new Map(bypass)
  for (const [key, slots] of all) {
    merge.set(key, { shape: SHAPES.get(key)!, data: merged(key, slots) })
    slots.forEach((s, i) => {
      const names = slotInputs(key, i)
      const shapes = slotShapes(SHAPES.get(key)!, s.rank, s.kind)
      bypass.set(names.down, { shape: shapes.down, data: s.down })
      if (shapes.mid && s.mid) bypass.set(names.mid, { shape: shapes.mid, data: s.mid })
      bypass.set(names.up, { shape: shapes.up, data: s.up })
      bypass.set(names.scale, { shape: shapes.scale, data: Float32Array.of(s.scale) })
    })
  }
  return { bypass, merge }
}

test('bypass branches equal merged weights: Gemm and MatMul linears, strided 3×3 conv (plain + Tucker), 1×1 conv; two slots', async () => {
  const slots = new Map([['lin', slotsFor('m.lin.weight', [2, 3], 1)], ['mm', slotsFor('m.mm.weight', [4], 11)],
    ['conv', [...slotsFor('m.conv.weight', [2], 21), ...slotsFor('m.conv.weight', [3], 41, 'tucker')]],
    ['pw', slotsFor('m.pw.weight', [3, 1], 31)]].map(([k, v]) => [`m.${k}.weight`, v as SlotData[]]))
  const layout = new Map([...slots].map(([k, v]) => [k, v.map((x) => x.kind)]))
  const f = feeds(slots)
  const [bypass, merge] = [await run(layout, f.bypass), await run(undefined, f.merge)]
  for (const name of ['lin', 'mm', 'conv', 'pw']) {
    assert.deepEqual(bypass[name].shape, merge[name].shape)
    const d = maxAbsDiff(bypass[name].data, merge[name].data)
    assert.ok(d < 1e-5, `${name}: bypass differs from merged by ${d}`)
  }
})

test('one session serves any rank: rank 2 then rank 5 feeds through the same graph', async () => {
  const built = build(new Map([['m.lin.weight', ['low-rank']]]))
  const session = await GraphSession.create(built.g, { weightKeys: built.weightKeys, threads: 1 })
  try {
    for (const rank of [2, 5]) {
      const slots = new Map([['m.lin.weight', slotsFor('m.lin.weight', [rank], rank)]])
      const f = feeds(slots)
      const out = await session.run(INPUTS, { get: (k) => f.bypass.get(k)!.data, shape: (k) => f.bypass.get(k)!.shape })
      const expected = await run(undefined, f.merge)
      const d = maxAbsDiff(out.lin.data, expected.lin.data)
      assert.ok(d < 1e-5, `rank ${rank}: ${d}`)
    }
  } finally {
    await session.release()
  }
})

test('a layout naming a bound layer that no forward consulted fails the build', () => {
  const g = new Graph('missed')
  useLowRank(g, new Map([['w', ['low-rank']]]))
  const x = g.input('x', 'float32', [1, 2])
  g.input('w', 'float32', [2, 2])
  assert.throws(() => lowRankInputs(g, ['w']), new GraphBuildError('missed: 1 layer(s) have low-rank slots but no forward applied them: w'))
  assert.equal(withLowRank(g, x, x, x), x, 'a weight outside the layout is left alone')
})
