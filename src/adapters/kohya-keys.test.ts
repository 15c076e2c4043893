/** Key mapping against A1111's own matching of the tiny SDXL LoRA (json `a1111_key_matching`) and the SD1 goldens. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson } from '../../test/golden.ts'
import { convertDiffusersNameToCompvis, kohyaModuleName, resolveModuleName, underscoreToDotted } from './kohya-keys.ts'
import type { Arch } from './types.ts'

const keysOf = (...parts: string[]) => {
  const keys = new Set(Object.keys(readRefJson(...parts)))
  return { has: (k: string) => keys.has(k) }
}

test('every module of the SDXL LoRA reaches the layer A1111 matched', () => {
  const meta = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json')
  const base = keysOf('sdxl', 'tiny-sdxl-base.keys.json')
  const rows = meta.a1111_key_matching.rows as [string, string, string][]
  assert.equal(rows.length, 304)
  for (const [name, a1111Key, type] of rows) {
    const r = resolveModuleName(name, 'sdxl', base)
    assert.ok(r, name)
    assert.equal(r.a1111Key, a1111Key, name)
    const kind = r.kind === 'layer' ? 'layer' : r.proj === 'out' ? 'out_proj' : 'in_proj rows'
    const expected = type === 'MultiheadAttention' ? 'in_proj rows' : type === 'NonDynamicallyQuantizableLinear' ? 'out_proj' : 'layer'
    assert.equal(kind, expected, name)
  }
})

test('diffusers-style SDXL UNet names follow A1111, including its up_blocks_0 upsampler miss', () => {
  const meta = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json')
  const base = keysOf('sdxl', 'tiny-sdxl-base.keys.json')
  for (const m of meta.a1111_key_matching.diffusers_style_unet_names.mismatches as { diffusers_style: string; a1111_converted: string }[]) {
    assert.equal(convertDiffusersNameToCompvis(m.diffusers_style, false), m.a1111_converted)
    assert.equal(resolveModuleName(m.diffusers_style, 'sdxl', base), undefined)
  }
  const hit = resolveModuleName('lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k', 'sdxl', base)
  assert.equal(hit?.kind === 'layer' && hit.module, 'model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k')
})

test('SD1 goldens: kohya and diffusers names map to the LDM keys the json lists', () => {
  const meta = readRefJson('sd1', 'adapters', 'adapter_goldens.json')
  const base = keysOf('sd1', 'tiny-sd1.keys.json')
  for (const e of meta.merged.lora as { ldm_key: string; kohya_name: string; diffusers_module: string }[]) {
    const arch: Arch = 'sd1'
    const r = resolveModuleName(e.kohya_name, arch, base)
    assert.equal(r?.kind === 'layer' && `${r.module}.weight`, e.ldm_key, e.kohya_name)
    const prefix = e.kohya_name.startsWith('lora_te_') ? 'text_encoder.' : 'unet.'
    assert.equal(kohyaModuleName(prefix + e.diffusers_module, false), e.kohya_name)
  }
})

test('A1111 layer names become LDM module paths', () => {
  assert.equal(underscoreToDotted('diffusion_model_output_blocks_11_1_transformer_blocks_0_ff_net_0_proj'),
    'diffusion_model.output_blocks.11.1.transformer_blocks.0.ff.net.0.proj')
  assert.equal(underscoreToDotted('transformer_text_model_encoder_layers_3_mlp_fc2'), 'transformer.text_model.encoder.layers.3.mlp.fc2')
  assert.equal(underscoreToDotted('1_model_transformer_resblocks_2_mlp_c_fc'), '1.model.transformer.resblocks.2.mlp.c_fc')
})
