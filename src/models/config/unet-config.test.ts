import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openSafetensors } from '../../formats/safetensors.ts'
import { UnknownModelError } from '../../core/errors.ts'
import { readRefJson, ref } from '../../../test/golden.ts'
import { detectUnetConfig, headsFor, UNET_PREFIX, type UnetConfig } from './unet-config.ts'
import { paramKeys } from '../../nn/module.ts'
import { unetTree } from '../unet/unet-tree.ts'
import type { ShapeSource } from '../../nn/module.ts'

const shapesOf = async (...parts: string[]): Promise<ShapeSource> => {
  const src = await openSafetensors(ref(...parts))
  const shapes = new Map(src.keys().map((k) => [k, src.info(k).shape]))
  await src.close()
  return { file: src.file, has: (k) => shapes.has(k), shape: (k) => shapes.get(k)! }
}

/** The same model as a diffusers config (from the reference folder): what detection must agree with. */
function checkAgainstDiffusers(c: UnetConfig, dir: string): void {
  const d = readRefJson(dir, 'diffusers_unet_config.json')
  const levels = d.block_out_channels.length
  const perLevel = (v: unknown): number[] => (Array.isArray(v) ? v : Array(levels).fill(v))
  const cross = d.down_block_types.map((t: string) => t.startsWith('CrossAttn'))
  assert.equal(c.inChannels, d.in_channels)
  assert.equal(c.outChannels, d.out_channels)
  assert.deepEqual(c.channelMult.map((m) => m * c.modelChannels), d.block_out_channels)
  assert.equal(c.numResBlocks, d.layers_per_block)
  assert.equal(c.contextDim, d.cross_attention_dim)
  assert.equal(c.linearProj, d.use_linear_projection)
  assert.equal(c.admInChannels, d.projection_class_embeddings_input_dim ?? 0)
  assert.equal(c.timeEmbedDim, 4 * c.modelChannels)   // diffusers: time_embed_dim = 4 · block_out_channels[0]
  assert.deepEqual(c.attentionLevels, cross)
  const depth = perLevel(d.transformer_layers_per_block)
  assert.deepEqual(c.transformerDepth, depth.map((n, l) => (cross[l] ? n : 0)))
  assert.equal(c.transformerDepthMiddle, depth[levels - 1])
  // diffusers' attention_head_dim holds the head COUNT per level (its long-standing naming quirk).
  const heads = perLevel(d.attention_head_dim)
  c.attentionLevels.forEach((a, l) => { if (a) assert.equal(headsFor(c.heads, d.block_out_channels[l]), heads[l], `heads at level ${l}`) })
}

test('tiny sd1: config from shapes equals the diffusers config; 8 heads (SD1 rule)', async () => {
  const c = detectUnetConfig(await shapesOf('sd1', 'tiny-sd1.safetensors'))
  assert.equal(c.family, 'sd1')
  assert.deepEqual(c.heads, { kind: 'count', count: 8 })
  assert.equal(c.sources.inChannels, 'model.diffusion_model.input_blocks.0.0.weight')
  assert.equal(c.sources.contextDim, 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight')
  checkAgainstDiffusers(c, 'sd1')
})

test('tiny sd2: linear proj, head dim 8 (tiny rule), heads = C/8 per level', async () => {
  const c = detectUnetConfig(await shapesOf('sd2', 'tiny-sd2-v.safetensors'))
  assert.equal(c.family, 'sd2')
  assert.deepEqual(c.heads, { kind: 'dim', dim: 8 })
  assert.equal(c.sources.heads, 'FAMILY_TABLE sd2 (model_channels 32 < 64: TINY_HEAD_RULE)')
  assert.equal(c.sources.linearProj, 'model.diffusion_model.input_blocks.1.1.proj_in.weight')
  checkAgainstDiffusers(c, 'sd2')
})

test('tiny sdxl: 3 levels, level 0 without attention, label_emb over the 1600-wide vector', async () => {
  const c = detectUnetConfig(await shapesOf('sdxl', 'tiny-sdxl-base.safetensors'))
  assert.equal(c.family, 'sdxl')
  assert.equal(c.sources.admInChannels, 'model.diffusion_model.label_emb.0.0.weight')
  assert.equal(c.sources.family, 'model.diffusion_model.label_emb.0.0.weight')
  checkAgainstDiffusers(c, 'sdxl')
})

test('a file without a UNet is refused naming the probe tensor', async () => {
  const s = await shapesOf('sd1', 'tiny-sd1.safetensors')
  const noUnet: ShapeSource = { file: s.file, has: () => false, shape: s.shape }
  assert.throws(() => detectUnetConfig(noUnet), new UnknownModelError(s.file,
    'no UNet found: tensor "model.diffusion_model.input_blocks.0.0.weight" is absent'))
})

test('a width the head rule cannot split is refused with a hint to override', async () => {
  const s = await shapesOf('sd2', 'tiny-sd2-v.safetensors')
  assert.throws(() => detectUnetConfig(s, { heads: { kind: 'dim', dim: 7 } }), new UnknownModelError(s.file,
    'attention width 32 does not split into heads by the sd2 rule {"kind":"dim","dim":7}; pass DetectOptions.heads for this model'))
})

// Round trip at full size: shapes generated from a config (the LDM/sgm yaml values) must be detected back as it.
const full = { inChannels: 4, outChannels: 4, modelChannels: 320, numResBlocks: 2, timeEmbedDim: 1280 } as const
const FULL_SIZE: readonly Omit<UnetConfig, 'sources'>[] = [
  { ...full, family: 'sd1', channelMult: [1, 2, 4, 4], attentionLevels: [true, true, true, false], transformerDepth: [1, 1, 1, 0],
    transformerDepthMiddle: 1, heads: { kind: 'count', count: 8 }, contextDim: 768, linearProj: false, admInChannels: 0 },
  { ...full, family: 'sd2', channelMult: [1, 2, 4, 4], attentionLevels: [true, true, true, false], transformerDepth: [1, 1, 1, 0],
    transformerDepthMiddle: 1, heads: { kind: 'dim', dim: 64 }, contextDim: 1024, linearProj: true, admInChannels: 0 },
  { ...full, family: 'sdxl', channelMult: [1, 2, 4], attentionLevels: [false, true, true], transformerDepth: [0, 2, 10],
    transformerDepthMiddle: 10, heads: { kind: 'dim', dim: 64 }, contextDim: 2048, linearProj: true, admInChannels: 2816 },
  { ...full, family: 'sdxl', modelChannels: 384, timeEmbedDim: 1536, inChannels: 4, channelMult: [1, 2, 4, 4],   // refiner
    attentionLevels: [false, true, true, false], transformerDepth: [0, 4, 4, 0], transformerDepthMiddle: 4,
    heads: { kind: 'dim', dim: 64 }, contextDim: 1280, linearProj: true, admInChannels: 2560 },
]

for (const want of FULL_SIZE) {
  test(`full-size ${want.family} (model_channels ${want.modelChannels}) is detected back from its shapes`, () => {
    const keys = paramKeys(unetTree({ ...want, sources: {} }), UNET_PREFIX)
    const shapes = new Map(keys.map((k) => [k.key, k.shape]))
    const got = detectUnetConfig({ file: 'generated.safetensors', has: (k) => shapes.has(k), shape: (k) => shapes.get(k)! })
    const { sources: _, ...measured } = got
    assert.deepEqual(measured, want)
  })
}

test('a 9-channel (inpainting) input conv is measured as such', () => {
  const keys = paramKeys(unetTree({ ...FULL_SIZE[0], inChannels: 9, sources: {} }), UNET_PREFIX)
  const shapes = new Map(keys.map((k) => [k.key, k.shape]))
  assert.equal(detectUnetConfig({ file: 'inpaint.safetensors', has: (k) => shapes.has(k), shape: (k) => shapes.get(k)! }).inChannels, 9)
})
