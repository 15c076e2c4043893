import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, refTensors } from '../../../test/golden.ts'
import type { TensorSource } from '../../formats/tensor-source.ts'
import { WeightStore } from '../weights.ts'
import { vaeKeyMap } from './keys.ts'
import { VAE_PREFIX, VaeDecoderSession } from './vae.ts'

/** A state dict held in memory (the shape of a separate VAE file). */
function memorySource(file: string, tensors: Map<string, { shape: number[]; data: Float32Array }>): TensorSource {
  const get = (k: string) => tensors.get(k) ?? assert.fail(`no ${k}`)
  return {
    file, format: 'safetensors', metadata: {},
    keys: () => [...tensors.keys()],
    has: (k) => tensors.has(k),
    info: (k) => ({ dtype: 'F32', shape: get(k).shape, byteLength: get(k).data.byteLength }),
    readF32: async (k) => get(k).data.slice(),
    readRaw: async (k) => new Uint8Array(get(k).data.slice().buffer),
    close: async () => {},
  }
}

test('diffusers VAE names map to LDM names (up_blocks reversed, attention and shortcut renamed)', () => {
  const keys = [
    'decoder.up_blocks.0.resnets.0.conv_shortcut.weight', 'decoder.up_blocks.3.upsamplers.0.conv.bias',
    'decoder.up_blocks.1.upsamplers.0.conv.weight', 'encoder.down_blocks.2.downsamplers.0.conv.weight',
    'encoder.down_blocks.1.resnets.0.conv_shortcut.bias', 'decoder.mid_block.resnets.1.norm2.weight',
    'decoder.mid_block.attentions.0.to_q.weight', 'encoder.mid_block.attentions.0.group_norm.bias',
    'decoder.mid_block.attentions.0.to_out.0.bias', 'encoder.mid_block.attentions.0.value.weight',
    'decoder.mid_block.attentions.0.proj_attn.weight', 'decoder.conv_norm_out.weight', 'post_quant_conv.weight',
    'encoder.conv_in.bias',
  ]
  const map = vaeKeyMap(keys)
  assert.equal(map.layout, 'diffusers')
  assert.deepEqual(keys.map(map.rename), [
    'decoder.up.3.block.0.nin_shortcut.weight', 'decoder.up.0.upsample.conv.bias',
    'decoder.up.2.upsample.conv.weight', 'encoder.down.2.downsample.conv.weight',
    'encoder.down.1.block.0.nin_shortcut.bias', 'decoder.mid.block_2.norm2.weight',
    'decoder.mid.attn_1.q.weight', 'encoder.mid.attn_1.norm.bias',
    'decoder.mid.attn_1.proj_out.bias', 'encoder.mid.attn_1.v.weight',
    'decoder.mid.attn_1.proj_out.weight', 'decoder.norm_out.weight', 'post_quant_conv.weight',
    'encoder.conv_in.bias',
  ].map((k) => VAE_PREFIX + k))
})

test('LDM VAE files without prefix gain it; training-only keys are skipped and listed', () => {
  const map = vaeKeyMap(['decoder.conv_in.weight', 'quant_conv.bias', 'loss.discriminator.main.0.weight', 'first_stage_model.decoder.conv_out.bias'])
  assert.equal(map.layout, 'ldm')
  assert.equal(map.rename('decoder.conv_in.weight'), 'first_stage_model.decoder.conv_in.weight')
  assert.equal(map.rename('first_stage_model.decoder.conv_out.bias'), 'first_stage_model.decoder.conv_out.bias')
  assert.deepEqual(map.skipped, ['loss.discriminator.main.0.weight'])
})

/** The tiny SD1 VAE renamed to diffusers names, attention stored as Linear [C, C] (diffusers' current format). */
async function diffusersCopy(): Promise<TensorSource> {
  const src = await refTensors('sd1', 'tiny-sd1.safetensors')
  const out = new Map<string, { shape: number[]; data: Float32Array }>()
  for (const key of src.keys().filter((k) => k.startsWith(VAE_PREFIX))) {
    const shape = [...src.info(key).shape]
    let k = key.slice(VAE_PREFIX.length)
      .replace(/^encoder\.down\.(\d+)\.block\.(\d+)\./, 'encoder.down_blocks.$1.resnets.$2.')
      .replace(/^encoder\.down\.(\d+)\.downsample\./, 'encoder.down_blocks.$1.downsamplers.0.')
      .replace(/^decoder\.up\.(\d+)\.block\.(\d+)\./, (_, i: string, j: string) => `decoder.up_blocks.${3 - Number(i)}.resnets.${j}.`)
      .replace(/^decoder\.up\.(\d+)\.upsample\./, (_, i: string) => `decoder.up_blocks.${3 - Number(i)}.upsamplers.0.`)
      .replace(/\.mid\.block_(\d)\./, (_, i: string) => `.mid_block.resnets.${Number(i) - 1}.`)
      .replace('.nin_shortcut.', '.conv_shortcut.').replace('.norm_out.', '.conv_norm_out.')
    const attn = /\.mid\.attn_1\.(norm|q|k|v|proj_out)\./.exec(k)
    if (attn) {
      const to = { norm: 'group_norm', q: 'to_q', k: 'to_k', v: 'to_v', proj_out: 'to_out.0' }[attn[1]]
      k = k.replace(attn[0], `.mid_block.attentions.0.${to}.`)
      if (shape.length === 4) shape.splice(2, 2)
    }
    out.set(k, { shape, data: await src.readF32(key) })
  }
  return memorySource('diffusion_pytorch_model.safetensors', out)
}

test('a diffusers-named VAE file with Linear attention loads into the same names and decodes the golden', async () => {
  const file = await diffusersCopy()
  const map = vaeKeyMap(file.keys())
  assert.deepEqual(map.skipped, [])
  const weights = await WeightStore.load(file, { rename: map.rename })
  const dec = await VaeDecoderSession.create(weights)
  assert.equal(dec.config.attnLayout, 'linear')
  const ref = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  const image = await dec.decode({ shape: [1, 4, 8, 8], data: await ref.readF32('vae.decode.z') })
  assertClose(image.data, await ref.readF32('vae.decode.image'), 1e-4, 'vae.decode.image via diffusers names')
  await dec.release()
})
