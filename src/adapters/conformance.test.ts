/**
 * Conformance suite run over every algorithm of the registry (testing/conformance-cases.ts): through the real
 * key mapping and patch set, the merged weight must equal the bypass form on random inputs, for Linear, Conv and Norm
 * layers; stacking is additive; the multiplier is linear; removing restores the base bit for bit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HostTensor } from '../core/host-tensor.ts'
import { adapterFromTensors } from './adapter-file.ts'
import { ALGORITHMS } from './index.ts'
import { MemoryBaseWeights } from './memory-base.ts'
import { PatchSet } from './patch-set.ts'
import { CASES, IN, OUT, baseForward, type CaseLayer, type ConformanceCase } from './testing/conformance-cases.ts'
import { activation, maxAbsDiff64, normalize, randomTensor, rng, type Activation } from './testing/reference-ops.ts'
import type { Adapter } from './types.ts'

const LAYERS: Readonly<Record<CaseLayer, { module: string; kohya: string; weight: number[] }>> = {
  linear: { module: 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.ff.net.2', kohya: 'lora_unet_input_blocks_1_1_transformer_blocks_0_ff_net_2', weight: [OUT, IN] },
  conv: { module: 'model.diffusion_model.input_blocks.1.0.in_layers.2', kohya: 'lora_unet_down_blocks_0_resnets_0_conv1', weight: [OUT, IN, 3, 3] },
  norm: { module: 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.norm1', kohya: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_norm1', weight: [IN] },
}

function syntheticBase(seed: number): MemoryBaseWeights {
  const next = rng(seed)
  const t = new Map<string, HostTensor>()
  for (const l of Object.values(LAYERS)) {
    t.set(`${l.module}.weight`, randomTensor(l.weight, next))
    t.set(`${l.module}.bias`, randomTensor([l.weight[0]], next))
  }
  return new MemoryBaseWeights('synthetic-sd1.safetensors', t)
}

function makeAdapter(c: ConformanceCase, seed: number, name = 'case'): { adapter: Adapter; parts: Record<string, HostTensor> } {
  const parts = c.parts(rng(seed))
  const tensors = new Map(Object.entries(parts).map(([p, t]) => [`${LAYERS[c.layer].kohya}.${p}`, t] as const))
  return { adapter: adapterFromTensors({ file: `${name}.safetensors`, tensors }), parts }
}

function forward(c: ConformanceCase, x: Activation, w: HostTensor, b: Float32Array): Float64Array {
  if (c.layer === 'norm') return normalize(x.data).map((v, i) => v * w.data[i] + b[i])
  return baseForward(c.layer, x, w, b).data
}

const input = (layer: CaseLayer, seed: number): Activation => {
  const [h, w] = layer === 'conv' ? [5, 5] : [1, 1]
  return activation(IN, h, w, randomTensor([IN * h * w], rng(seed)).data)
}

test('every registry algorithm has a conformance case', () => {
  assert.deepEqual([...new Set(CASES.map((c) => c.algorithm))].sort(), Object.keys(ALGORITHMS).sort())
})

for (const c of CASES) {
  test(`${c.name}: merged weight equals the bypass form`, async () => {
    const base = syntheticBase(1)
    const { adapter, parts } = makeAdapter(c, 2)
    const set = new PatchSet(base, 'sd1', { strict: true })
    const m = 0.8
    const { reports } = await set.update([{ adapter, te: 0.3, unet: m }])
    assert.deepEqual(reports[0].applied, { unet: 1, te1: 0, te2: 0 })
    const l = LAYERS[c.layer]
    const w = { shape: l.weight, data: set.get(`${l.module}.weight`) }
    for (const seed of [3, 4]) {
      const x = input(c.layer, seed)
      const merged = forward(c, x, w, set.get(`${l.module}.bias`))
      const bypassed = c.bypass({ x, w: { shape: l.weight, data: base.get(`${l.module}.weight`) }, b: base.get(`${l.module}.bias`), p: parts, m })
      const expected = bypassed instanceof Float64Array ? bypassed : bypassed.data
      assert.ok(maxAbsDiff64(merged, expected) < 2e-5, `${c.name}: max diff ${maxAbsDiff64(merged, expected)}`)
      assert.ok(maxAbsDiff64(merged, forward(c, x, { shape: l.weight, data: base.get(`${l.module}.weight`) }, base.get(`${l.module}.bias`))) > 1e-3, 'the adapter changes the output')
    }
  })

  test(`${c.name}: stacking adds, the multiplier is linear, removing restores the base bit for bit`, async () => {
    const base = syntheticBase(5)
    const a = makeAdapter(c, 6, 'a').adapter
    const b = makeAdapter(c, 7, 'b').adapter
    const set = new PatchSet(base, 'sd1')
    const key = `${LAYERS[c.layer].module}.weight`
    const w0 = base.get(key)
    const delta = async (entries: Parameters<PatchSet['update']>[0]) => {
      await set.update(entries)
      return Float64Array.from(set.get(key), (v, i) => v - w0[i])
    }
    const da = await delta([{ adapter: a, te: 1, unet: 0.6 }])
    const db = await delta([{ adapter: b, te: 1, unet: 0.6 }])
    const both = await delta([{ adapter: a, te: 1, unet: 0.6 }, { adapter: b, te: 1, unet: 0.6 }])
    assert.ok(maxAbsDiff64(both, da.map((v, i) => v + db[i])) < 1e-5, 'stacking is additive')
    const half = await delta([{ adapter: a, te: 1, unet: 0.3 }, { adapter: b, te: 1, unet: 0.6 }])
    assert.ok(maxAbsDiff64(half, da.map((v, i) => v / 2 + db[i])) < 1e-5, 'multiplier is linear')
    const { changed, tensors } = await set.update([])
    assert.ok(changed.includes(key))
    assert.equal(tensors.size, 0)
    assert.equal(set.get(key), w0, 'the base array itself')
    assert.equal(set.get(`${LAYERS[c.layer].module}.bias`), base.get(`${LAYERS[c.layer].module}.bias`))
  })
}

test('kohya OFT (oft_blocks + alpha): Cayley rotation (I + Q)(I − Q)⁻¹ per block, norm of Q clamped to alpha·out', async () => {
  const base = syntheticBase(21)
  const key = `${LAYERS.linear.module}.weight`
  const blocks = randomTensor([3, 2, 2], rng(22))
  const w = base.get(key)
  for (const alpha of [100, 0.01]) {
    const adapter = adapterFromTensors({ file: 'oft.safetensors', tensors: new Map([
      [`${LAYERS.linear.kohya}.oft_blocks`, blocks], [`${LAYERS.linear.kohya}.alpha`, { shape: [], data: Float32Array.of(alpha) }],
    ]) })
    const set = new PatchSet(base, 'sd1')
    await set.update([{ adapter, te: 1, unet: 1 }])
    const q = [0, 1, 2].map((j) => blocks.data[j * 4 + 1] - blocks.data[j * 4 + 2])
    const norm = Math.sqrt(q.reduce((s, v) => s + 2 * v * v, 0))
    const f = (Math.min(norm, alpha * OUT) + 1e-8) / (norm + 1e-8)
    const expected = new Float64Array(w.length)
    for (let j = 0; j < 3; j++) {
      const t = q[j] * f // 2×2 skew block [[0, t], [−t, 0]]: R = [[1 − t², 2t], [−2t, 1 − t²]] / (1 + t²)
      const r = [[1 - t * t, 2 * t], [-2 * t, 1 - t * t]].map((row) => row.map((v) => v / (1 + t * t)))
      for (let m = 0; m < 2; m++) for (let c = 0; c < IN; c++) {
        expected[(j * 2 + m) * IN + c] = r[0][m] * w[(j * 2) * IN + c] + r[1][m] * w[(j * 2 + 1) * IN + c]
      }
    }
    assert.ok(maxAbsDiff64(set.get(key), expected) < 1e-6, `alpha ${alpha}`)
  }
})

test('BOFT with two butterfly stages (rows regrouped (c g s) → (c s g) between blocks) equals the bypass form', async () => {
  const key = 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight'
  const w = randomTensor([8, 3], rng(31))
  const base = new MemoryBaseWeights('boft.safetensors', new Map([[key, w]]))
  const blocks = randomTensor([2, 4, 2, 2], rng(32))
  const adapter = adapterFromTensors({ file: 'b.safetensors', tensors: new Map([['lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.oft_diag', blocks]]) })
  const set = new PatchSet(base, 'sd1', { strict: true })
  await set.update([{ adapter, te: 1, unet: 0.5 }])
  const x = randomTensor([3], rng(33)).data
  let z = Array.from({ length: 8 }, (_, o) => w.data[o * 3] * x[0] + w.data[o * 3 + 1] * x[1] + w.data[o * 3 + 2] * x[2])
  const wx = [...z]
  for (let stage = 0; stage < 2; stage++) {
    const s = 2 ** stage // b/2 = 1
    const rowOf = (p: number) => { const c = Math.floor(p / (2 * s)); const k = Math.floor((p % (2 * s)) / 2); const g = p % 2; return c * 2 * s + g * s + k }
    const next = new Array<number>(8).fill(0)
    for (let d = 0; d < 4; d++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
      next[rowOf(d * 2 + i)] += blocks.data[((stage * 4 + d) * 2 + i) * 2 + j] * z[rowOf(d * 2 + j)]
    }
    z = next
  }
  const merged = set.get(key)
  for (let o = 0; o < 8; o++) {
    const y = merged[o * 3] * x[0] + merged[o * 3 + 1] * x[1] + merged[o * 3 + 2] * x[2]
    assert.ok(Math.abs(y - (wx[o] + 0.5 * (z[o] - wx[o]))) < 1e-5, `row ${o}`)
  }
})
