import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openSafetensors } from '../../formats/safetensors.ts'
import { WeightStore } from '../weights.ts'
import { detectUnetConfig, UNET_PREFIX, type UnetConfig } from '../config/unet-config.ts'
import { UnetSession } from './unet-session.ts'
import { buildUnetGraph } from './unet-graph.ts'
import type { AttentionKind } from './spatial-transformer.ts'
import { assertClose, readRefJson, ref, refTensors } from '../../../test/golden.ts'
import { InputError, MissingKeysError, ShapeMismatchError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'

interface Model { readonly dir: string; readonly file: string; readonly goldens: string; readonly out: 'eps' | 'v' }
const MODELS: Record<'sd1' | 'sd2' | 'sdxl', Model> = {
  sd1: { dir: 'sd1', file: 'tiny-sd1.safetensors', goldens: 'sd1_goldens', out: 'eps' },
  sd2: { dir: 'sd2', file: 'tiny-sd2-v.safetensors', goldens: 'sd2_goldens', out: 'v' },
  sdxl: { dir: 'sdxl', file: 'tiny-sdxl-base.safetensors', goldens: 'sdxl_goldens', out: 'eps' },
}

async function loadUnet(m: Model): Promise<WeightStore> {
  const source = await openSafetensors(ref(m.dir, m.file))
  try { return await WeightStore.load(source, { prefixes: [UNET_PREFIX] }) } finally { await source.close() }
}

async function tensor(m: Model, key: string): Promise<HostTensor> {
  const src = await refTensors(m.dir, 'goldens', `${m.goldens}.safetensors`)
  return { shape: src.info(key).shape, data: await src.readF32(key) }
}

interface Entry { name: string; x: string; timestep: number; context: string; vector?: string; eps?: string; v?: string }
const entriesOf = (m: Model): Entry[] => {
  const u = readRefJson(m.dir, 'goldens', `${m.goldens}.json`).unet
  return Array.isArray(u) ? u : u.entries
}

const KERNELS: readonly { family: keyof typeof MODELS; attention: AttentionKind }[] = [
  { family: 'sd1', attention: 'mha' }, { family: 'sd2', attention: 'mha' }, { family: 'sdxl', attention: 'mha' },
  { family: 'sd1', attention: 'matmul' }, { family: 'sd2', attention: 'matmul' },
]

for (const { family, attention } of KERNELS) {
  const m = MODELS[family]
  test(`${family} (${attention} attention): UNet output matches every unet.* golden (1e-4), A1111 mode at 12x8`, async () => {
    const store = await loadUnet(m)
    const config = detectUnetConfig(store)
    const unet = await UnetSession.create(config, store, { attention })
    assert.deepEqual(unet.unusedKeys, [])
    for (const e of entriesOf(m)) {
      const x = await tensor(m, e.x)
      const out = await unet.run({
        x, t: { shape: [1], data: new Float32Array([e.timestep]) },
        context: await tensor(m, e.context),
        ...(e.vector ? { y: await tensor(m, e.vector) } : {}),
      }, store)
      const expected = await tensor(m, (e.eps ?? e.v)!)
      assert.deepEqual(out.shape, expected.shape)
      assertClose(out.data, expected.data, 1e-4, `${family} ${e.name}`)
    }
    await unet.release()
  })
}

test('the same session serves batch 2 and a 154-token context (symbolic batch, size and T)', async () => {
  const m = MODELS.sd1
  const store = await loadUnet(m)
  const unet = await UnetSession.create(detectUnetConfig(store), store)
  const e = entriesOf(m)[1]
  const x = await tensor(m, e.x)
  const ctx = await tensor(m, e.context)
  const single = await unet.run({ x, t: { shape: [1], data: new Float32Array([e.timestep]) }, context: ctx }, store)
  // Two copies of the 77-token context attend exactly like one (softmax over duplicated keys is unchanged).
  const ctx2 = new Float32Array(ctx.data.length * 4)
  for (let i = 0; i < 4; i++) ctx2.set(ctx.data, i * ctx.data.length)
  const x2 = new Float32Array(x.data.length * 2); x2.set(x.data); x2.set(x.data, x.data.length)
  const out = await unet.run({
    x: { shape: [2, 4, 8, 8], data: x2 }, t: { shape: [2], data: new Float32Array([e.timestep, e.timestep]) },
    context: { shape: [2, 154, 32], data: ctx2 },
  }, store)
  assertClose(out.data.subarray(0, single.data.length), single.data, 1e-5, 'batch item 0')
  assertClose(out.data.subarray(single.data.length), single.data, 1e-5, 'batch item 1')
  await unet.release()
})

/** Counts checkpoint keys ending with `suffix` under the UNet prefix. */
const countKeys = (store: WeightStore, suffix: string): number => [...store.keys()].filter((k) => k.endsWith(suffix)).length

for (const [family, m] of Object.entries(MODELS)) {
  test(`${family}: graph summary follows the checkpoint's structure; weight inputs = its UNet keys`, async () => {
    const store = await loadUnet(m)
    const config = detectUnetConfig(store)
    const { graph, weightKeys } = buildUnetGraph(config, store)
    assert.deepEqual([...weightKeys].sort(), [...store.keys()].sort())
    const res = countKeys(store, '.in_layers.2.weight')
    const st = countKeys(store, '.proj_in.weight')
    const tb = countKeys(store, '.attn1.to_q.weight')
    const up = countKeys(store, '.conv.weight')
    const h = graph.opHistogram()
    assert.equal(h.MultiHeadAttention, 2 * tb)   // self + cross, fused (the default kernel)
    assert.equal(h.InstanceNormalization, 2 * res + st + 1)   // every GroupNorm (groupNormPreciseForward)
    assert.equal(h.LayerNormalization, 3 * tb)
    assert.equal(h.Gelu, tb)
    assert.equal(h.Resize, 2 * up)   // Upsample ×2, then the A1111 resize-to-skip of the next block
    assert.equal(h.Conv, 2 + 2 * res + countKeys(store, '.skip_connection.weight') + countKeys(store, '.op.weight') + up
      + (config.linearProj ? 0 : 2 * st))
    // Transformer Linears are MatMuls (q, k, v, out ×2, GEGLU proj, net.2; + proj_in/out when linear); the rest Gemm.
    assert.equal(h.MatMul, 10 * tb + (config.linearProj ? 2 * st : 0))
    assert.equal(h.Softmax, undefined)
  })
}

test('a 9-channel input conv given to a 4-channel config fails naming the tensor, with the inpainting hint', async () => {
  const store = await loadUnet(MODELS.sd1)
  const config = detectUnetConfig(store)
  const key = 'model.diffusion_model.input_blocks.0.0.weight'
  const inpaint = { file: store.file, has: (k: string) => store.has(k), shape: (k: string) => (k === key ? [32, 9, 3, 3] : store.shape(k)) }
  assert.throws(() => buildUnetGraph(config, inpaint), new ShapeMismatchError(store.file, key, [32, 4, 3, 3], [32, 9, 3, 3],
    '9 input channels usually means an inpainting checkpoint.'))
  assert.throws(() => buildUnetGraph(config, inpaint), { message: 'tiny-sd1.safetensors: tensor "model.diffusion_model.input_blocks.0.0.weight": '
    + 'expected [32, 4, 3, 3], found [32, 9, 3, 3]. Hint: 9 input channels usually means an inpainting checkpoint.' })
})

test('a missing key fails naming the key and the family', async () => {
  const store = await loadUnet(MODELS.sdxl)
  const config = detectUnetConfig(store)
  const gone = 'model.diffusion_model.middle_block.1.transformer_blocks.1.attn2.to_v.weight'
  const partial = { file: store.file, has: (k: string) => k !== gone && store.has(k), shape: (k: string) => store.shape(k) }
  assert.throws(() => buildUnetGraph(config, partial), new MissingKeysError(store.file, [gone], 'SDXL UNet'))
  assert.throws(() => buildUnetGraph(config, partial), { message: `tiny-sdxl-base.safetensors: 1 tensor(s) missing for a SDXL UNet model: "${gone}"` })
})

test('inputs that do not fit the config are refused before running', async () => {
  const store = await loadUnet(MODELS.sdxl)
  const unet = await UnetSession.create(detectUnetConfig(store), store)
  const x = { shape: [1, 4, 8, 8], data: new Float32Array(256) }
  const t = { shape: [1], data: new Float32Array([500]) }
  const context = { shape: [1, 77, 64], data: new Float32Array(77 * 64) }
  await assert.rejects(unet.run({ x, t, context }, store), new InputError('UNet input "y": expected [1, 1600], found []. '
    + 'Hint: SDXL needs the pooled text embedding + size/crop ids vector'))
  await assert.rejects(unet.run({ x, t, context: { shape: [1, 77, 32], data: new Float32Array(77 * 32) } }, store),
    new InputError('UNet input "context": expected [1, 77·k, 64], found [1, 77, 32]'))
  await unet.release()
})
