import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openSafetensors } from '../../formats/safetensors.ts'
import { ref } from '../../../test/golden.ts'
import { paramKeys } from '../../nn/module.ts'
import { KeyIndex, type TensorIndex } from '../detect/key-index.ts'
import { measureLdmUnet } from '../detect/unet-config.ts'
import { unetTree } from '../unet/unet-tree.ts'
import { scanLdmInputLevels } from './ldm-unet-scan.ts'
import { detectUnetConfig, UNET_PREFIX, type UnetConfig } from './unet-config.ts'

/** inspect's report (detect) and the graph's config measure the same UNet the same way. */
function assertReadersAgree(ix: TensorIndex): void {
  const c = detectUnetConfig({ file: ix.file, has: (k) => ix.has(k), shape: (k) => ix.info(k).shape })
  const m = measureLdmUnet(new KeyIndex(ix), UNET_PREFIX)
  assert.ok(m, `${ix.file}: detect finds the UNet`)
  assert.deepEqual(m.levels.value.map((l) => l.channels), c.channelMult.map((x) => x * c.modelChannels))
  assert.deepEqual(m.levels.value.map((l) => l.transformerDepth), c.transformerDepth)
  assert.equal(m.middleTransformerDepth, c.transformerDepthMiddle)
  assert.equal(m.resBlocksPerLevel, c.numResBlocks)
  assert.equal(m.projIn?.value, c.linearProj ? 'linear' : 'conv')
  assert.deepEqual([m.inChannels.value, m.modelChannels.value, m.outChannels?.value, m.contextDim?.value, m.admInChannels?.value ?? 0],
    [c.inChannels, c.modelChannels, c.outChannels, c.contextDim, c.admInChannels])
}

for (const [dir, file] of [['sd1', 'tiny-sd1.safetensors'], ['sd2', 'tiny-sd2-v.safetensors'], ['sdxl', 'tiny-sdxl-base.safetensors']]) {
  test(`detect and detectUnetConfig agree on the reference ${file}`, async () => {
    const src = await openSafetensors(ref(dir, file))
    try { assertReadersAgree(src) } finally { await src.close() }
  })
}

test('detect and detectUnetConfig agree on a full-size SDXL layout (uneven transformer depths)', () => {
  const want: UnetConfig = { family: 'sdxl', inChannels: 4, outChannels: 4, modelChannels: 320, numResBlocks: 2, timeEmbedDim: 1280,
    channelMult: [1, 2, 4], attentionLevels: [false, true, true], transformerDepth: [0, 2, 10], transformerDepthMiddle: 10,
    heads: { kind: 'dim', dim: 64 }, contextDim: 2048, linearProj: true, admInChannels: 2816, sources: {} }
  const shapes = new Map(paramKeys(unetTree(want), UNET_PREFIX).map((k) => [k.key, k.shape]))
  const keys = [...shapes.keys()]
  assertReadersAgree({
    file: 'generated.safetensors', format: 'safetensors', metadata: {}, keys: () => keys, has: (k) => shapes.has(k),
    info: (k) => ({ dtype: 'F32', shape: shapes.get(k)!, byteLength: 0 }),
  })
})

test('the walk splits levels at Downsamples and stops at the first other block', () => {
  const shapes = new Map<string, number[]>([
    ['input_blocks.1.0.in_layers.2.weight', [8, 8, 3, 3]],
    ['input_blocks.1.1.proj_in.weight', [8, 8]],
    ['input_blocks.1.1.transformer_blocks.0.norm1.weight', [8]],
    ['input_blocks.1.1.transformer_blocks.1.norm1.weight', [8]],
    ['input_blocks.2.0.op.weight', [8, 8, 3, 3]],
    ['input_blocks.3.0.op.weight', [8, 8, 3, 3]],
    ['input_blocks.4.0.in_layers.2.weight', [16, 8, 3, 3]],
    ['input_blocks.6.0.in_layers.2.weight', [16, 16, 3, 3]],
  ])
  const levels = scanLdmInputLevels({ has: (k) => shapes.has(k), shape: (k) => shapes.get(k) }, '')
  assert.deepEqual(levels.map((lv) => lv.map((b) => [b.block, b.channels, b.transformerDepth])),
    [[['input_blocks.1.', 8, 2]], [], [['input_blocks.4.', 16, 0]]])
})
