/*
 * planBypass: which layers run unmerged (every contribution a low-rank or Tucker product on a whole linear/conv weight),
 * the feeds (the adapter's own arrays, shaped for the layer; scale = multiplier · alpha/rank), and the PatchSet's
 * `exclude` (bypassed layers read the base array and never get a merged delta).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HostTensor } from '../core/host-tensor.ts'
import { slotInputs } from '../nn/low-rank.ts'
import { ref } from '../../test/golden.ts'
import { adapterFromTensors } from './adapter-file.ts'
import { planBypass } from './bypass.ts'
import { loadBaseWeights, type MemoryBaseWeights } from './memory-base.ts'
import { JS_MATMUL, PatchSet } from './patch-set.ts'
import { planAdapter } from './plan.ts'
import { randomTensor, rng } from './testing/reference-ops.ts'
import type { Adapter, MatmulBackend } from './types.ts'

let sd1: Promise<MemoryBaseWeights> | undefined
const sd1Base = () => (sd1 ??= loadBaseWeights(ref('sd1', 'tiny-sd1.safetensors')))

const PROJ_IN = 'lora_unet_down_blocks_0_attentions_0_proj_in'              // 1×1 conv [32, 32, 1, 1]
const TO_Q = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q'
const KEY = (m: string) => m === PROJ_IN ? 'model.diffusion_model.input_blocks.1.1.proj_in.weight'
  : 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight'

function adapter(file: string, modules: Record<string, readonly string[]>, seed: number): Adapter {
  const next = rng(seed)
  const tensors = new Map<string, HostTensor>()
  for (const [name, parts] of Object.entries(modules)) {
    for (const p of parts) {
      const shape = p === 'lora_down.weight' ? [4, 32] : p === 'lora_up.weight' ? [32, 4] : p === 'lora_mid.weight' ? [4, 4, 1, 1]
        : p.startsWith('hada_w') ? (p.endsWith('_a') ? [32, 2] : [2, 32]) : p === 'dora_scale' ? [32, 1] : []
      tensors.set(`${name}.${p}`, p === 'alpha' ? { shape: [], data: Float32Array.of(2) } : randomTensor(shape, next))
    }
  }
  return adapterFromTensors({ file, tensors })
}

const LORA_PARTS = ['lora_down.weight', 'lora_up.weight', 'alpha']
const LOHA_PARTS = ['hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b', 'alpha']

test('a linear-shaped LoRA on a 1×1 conv and on a linear: feeds are its own arrays, shaped for the layer', async () => {
  const base = await sd1Base()
  const a = adapter('a.safetensors', { [PROJ_IN]: LORA_PARTS, [TO_Q]: LORA_PARTS }, 1)
  const p = planBypass([{ adapter: a, te: 1, unet: 0.5 }], [planAdapter(a, 'sd1', base)], base)
  assert.deepEqual([...p.layout], [[KEY(PROJ_IN), ['low-rank']], [KEY(TO_Q), ['low-rank']]])
  assert.deepEqual(p.bypassed, [{ unet: 2, te1: 0, te2: 0 }])
  const conv = slotInputs(KEY(PROJ_IN), 0)
  const down = a.modules.find((m) => m.name === PROJ_IN)!.parts.get('lora_down.weight')!
  assert.equal(p.feeds.get(conv.down)!.data, down.data, 'the adapter array itself (no copy)')
  assert.deepEqual([p.feeds.get(conv.down)!.shape, p.feeds.get(conv.up)!.shape], [[4, 32, 1, 1], [32, 4, 1, 1]])
  const lin = slotInputs(KEY(TO_Q), 0)
  assert.deepEqual([p.feeds.get(lin.down)!.shape, p.feeds.get(lin.up)!.shape], [[4, 32], [32, 4]])
  assert.deepEqual(p.feeds.get(lin.scale)!.data, Float32Array.of(0.5 * 2 / 4), 'multiplier · alpha / rank')
})

test('two LoRAs on one layer are two slots, a Tucker core a tucker slot; a LoHa or a DoRA module makes that whole layer merged', async () => {
  const base = await sd1Base()
  const a = adapter('a.safetensors', { [PROJ_IN]: LORA_PARTS, [TO_Q]: LORA_PARTS }, 1)
  const b = adapter('b.safetensors', { [PROJ_IN]: LORA_PARTS }, 2)
  const loha = adapter('h.safetensors', { [TO_Q]: LOHA_PARTS }, 3)
  const tucker = adapter('t.safetensors', { [PROJ_IN]: [...LORA_PARTS, 'lora_mid.weight'] }, 4)
  const dora = adapter('d.safetensors', { [PROJ_IN]: [...LORA_PARTS, 'dora_scale'] }, 5)
  const plan = (list: Adapter[]) => planBypass(list.map((x) => ({ adapter: x, te: 1, unet: 1 })), list.map((x) => planAdapter(x, 'sd1', base)), base)
  assert.deepEqual([...plan([a, b]).layout], [[KEY(PROJ_IN), ['low-rank', 'low-rank']], [KEY(TO_Q), ['low-rank']]])
  const withLoha = plan([a, b, loha])
  assert.deepEqual([...withLoha.layout], [[KEY(PROJ_IN), ['low-rank', 'low-rank']]])
  assert.deepEqual(withLoha.bypassed, [{ unet: 1, te1: 0, te2: 0 }, { unet: 1, te1: 0, te2: 0 }, { unet: 0, te1: 0, te2: 0 }])
  const withTucker = plan([a, tucker])
  assert.deepEqual([...withTucker.layout], [[KEY(PROJ_IN), ['low-rank', 'tucker']], [KEY(TO_Q), ['low-rank']]])
  assert.deepEqual(withTucker.feeds.get(slotInputs(KEY(PROJ_IN), 1).mid)!.shape, [4, 4, 1, 1])
  assert.deepEqual([...plan([a, dora]).layout], [[KEY(TO_Q), ['low-rank']]])
  const zero = planBypass([{ adapter: a, te: 1, unet: 0 }], [planAdapter(a, 'sd1', base)], base)
  assert.equal(zero.layout.size, 0, 'multiplier 0: not applied, as in merge mode')
})

test('PatchSet exclude: excluded layers read the base array and no delta is computed for them', async () => {
  const base = await sd1Base()
  const a = adapter('a.safetensors', { [PROJ_IN]: LORA_PARTS, [TO_Q]: LORA_PARTS }, 1)
  const products: number[] = []
  const counting: MatmulBackend = { matmul: (x, y, m, k, n, out) => { products.push(m * n); return JS_MATMUL.matmul(x, y, m, k, n, out) } }
  const set = new PatchSet(base, 'sd1', { matmul: counting })
  const r = await set.update([{ adapter: a, te: 1, unet: 1 }], { exclude: new Set([KEY(TO_Q)]) })
  assert.deepEqual([...r.tensors.keys()], [KEY(PROJ_IN)])
  assert.equal(set.get(KEY(TO_Q)), base.get(KEY(TO_Q)))
  assert.deepEqual(products, [32 * 32], 'one product: proj_in only')
  const all = await set.update([{ adapter: a, te: 1, unet: 1 }])
  assert.deepEqual(all.changed, [KEY(TO_Q)], 'no longer excluded: merged, the cached proj_in delta kept')
  assert.deepEqual(products, [32 * 32, 32 * 32])
  const fresh = await new PatchSet(base, 'sd1').update([{ adapter: a, te: 1, unet: 1 }])
  assert.deepEqual(set.get(KEY(TO_Q)), fresh.tensors.get(KEY(TO_Q)))
})
