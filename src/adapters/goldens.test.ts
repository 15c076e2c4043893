/** Merged-weight goldens made by A1111 / LyCORIS on the tiny models (shared/reference sd1/adapters, sdxl/adapters). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, readRefJson, ref, refTensors } from '../../test/golden.ts'
import { adapterFromTensors, loadAdapter } from './adapter-file.ts'
import { loadBaseWeights } from './memory-base.ts'
import { PatchSet } from './patch-set.ts'

test('SD1 LoRA / LoHa / LoKr merged at 0.7 equal the goldens (1e-6)', async () => {
  const base = await loadBaseWeights(ref('sd1', 'tiny-sd1.safetensors'))
  const golden = await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')
  const meta = readRefJson('sd1', 'adapters', 'adapter_goldens.json')
  for (const kind of ['lora', 'loha', 'lokr'] as const) {
    const adapter = await loadAdapter(ref('sd1', 'adapters', `tiny${kind}.safetensors`))
    const set = new PatchSet(base, 'sd1')
    const { reports } = await set.update([{ adapter, te: 0.7, unet: 0.7 }])
    assert.deepEqual(reports[0].unmatchedKeys, [], kind)
    assert.deepEqual(reports[0].skipped, [], kind)
    assert.equal(reports[0].applied.te1 + reports[0].applied.unet, adapter.modules.length, kind)
    for (const entry of meta.merged[kind] as { key: string; ldm_key: string }[]) {
      assertClose(set.get(entry.ldm_key), await golden.readF32(entry.key), 1e-6, entry.key)
    }
  }
})

test('SDXL LoRA merged at 0.7 equals A1111 (te1, bigG q/k/v rows + out_proj, UNet; 1e-6)', async () => {
  const base = await loadBaseWeights(ref('sdxl', 'tiny-sdxl-base.safetensors'))
  const golden = await refTensors('sdxl', 'adapters', 'sdxl_adapter_goldens.safetensors')
  const meta = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json')
  const adapter = await loadAdapter(ref('sdxl', 'adapters', 'tinyxl_lora.safetensors'))
  const set = new PatchSet(base, 'sdxl', { strict: true })
  const { reports, tensors } = await set.update([{ adapter, te: 0.7, unet: 0.7 }])
  assert.equal(tensors.size, meta.merged.weights_changed)
  assert.deepEqual(reports[0].applied, { unet: meta.lora_file.unet, te1: meta.lora_file.te1, te2: meta.lora_file.te2 })
  for (const entry of meta.merged.entries as { key: string; ldm_key: string }[]) {
    assertClose(set.get(entry.ldm_key), await golden.readF32(entry.key), 1e-6, entry.key)
  }
  const inProj = 'conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_weight'
  const merged = set.get(inProj)
  const baseW = base.get(inProj)
  const c = base.shape(inProj)[1]
  for (const [i, p] of ['q', 'k', 'v'].entries()) {
    const rows = new Float32Array(c * c)
    for (let j = 0; j < rows.length; j++) rows[j] = merged[i * c * c + j] - baseW[i * c * c + j]
    assertClose(rows, await golden.readF32(`delta.${inProj}.${p}_rows`), 1e-6, `${p} rows`)
  }
  const bias = 'conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_bias'
  assert.equal(set.get(bias), base.get(bias))
  assert.deepEqual([...set.get(bias)], [...await golden.readF32(`delta.${inProj}.bias_unchanged`)])
})

test('the SDXL LoRA with diffusers/PEFT text-encoder names (text_encoder. / text_encoder_2.) merges the same', async () => {
  const base = await loadBaseWeights(ref('sdxl', 'tiny-sdxl-base.safetensors'))
  const golden = await refTensors('sdxl', 'adapters', 'sdxl_adapter_goldens.safetensors')
  const meta = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json')
  const source = await loadAdapter(ref('sdxl', 'adapters', 'tinyxl_lora.safetensors'))
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>()
  const parts: Record<string, string> = { 'lora_down.weight': 'lora_A.weight', 'lora_up.weight': 'lora_B.weight', alpha: 'alpha' }
  for (const m of source.modules) {
    const te = /^lora_te([12])_text_model_encoder_layers_(\d+)_(self_attn|mlp)_(.+)$/.exec(m.name)
    if (!te) continue
    const path = `text_encoder${te[1] === '2' ? '_2' : ''}.text_model.encoder.layers.${te[2]}.${te[3]}.${te[4]}`
    for (const [p, t] of m.parts) tensors.set(`${path}.${parts[p]}`, t)
  }
  const adapter = adapterFromTensors({ file: 'peft-xl.safetensors', tensors })
  const set = new PatchSet(base, 'sdxl', { strict: true })
  const { reports } = await set.update([{ adapter, te: 0.7, unet: 0.7 }])
  assert.deepEqual(reports[0].applied, { unet: 0, te1: meta.lora_file.te1, te2: meta.lora_file.te2 })
  for (const entry of meta.merged.entries as { key: string; ldm_key: string }[]) {
    if (entry.ldm_key.startsWith('conditioner.')) assertClose(set.get(entry.ldm_key), await golden.readF32(entry.key), 1e-6, entry.key)
  }
})
