/*
 * Bypass mode (pipeline/adapters.ts mode 'bypass'): LoRA layers run as unmerged low-rank branches in the UNet and
 * text-encoder graphs. Their outputs equal merge mode's within float tolerance (SD1 and SDXL tiny models; a Tucker
 * LoCon on 3×3 convs); a switch between LoRAs is tested in adapters-bypass-switch.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HostTensor } from '../../src/core/host-tensor.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { rng, randomTensor } from '../../src/adapters/testing/reference-ops.ts'
import { maxAbsDiff, ref } from '../golden.ts'
import { apply, assertNear, outputs, writeAdapter, LORA, XL_LORA } from './adapters-bypass-helpers.ts'

for (const c of [{ arch: 'sd1', model: ref('sd1', 'tiny-sd1.safetensors'), lora: LORA }, { arch: 'sdxl', model: ref('sdxl', 'tiny-sdxl-base.safetensors'), lora: XL_LORA }]) {
  test(`${c.arch}: bypass equals merge (UNet output and text conditioning) at 0.7; nothing merged but open_clip q/k/v`, async () => {
    const model = await loadModel(c.model, { threads: 1 })
    try {
      await apply(model, [{ file: c.lora, te: 0.7, unet: 0.7 }], 'merge')
      const merged = await outputs(model)
      const lines: string[] = []
      const r = await apply(model, [{ file: c.lora, te: 0.7, unet: 0.7 }], 'bypass', (l) => lines.push(l))
      const bypassed = await outputs(model)
      assertNear(bypassed.unet, merged.unet, 'UNet output')
      assertNear(bypassed.cond, merged.cond, 'conditioning')
      assert.ok(maxAbsDiff(bypassed.unet, (await apply(model, [], 'bypass'), await outputs(model)).unet) > 1e-3, 'the LoRA had no effect')
      const lora = r.report.loras[0]
      assert.equal(r.report.bypassedLayers, lora.bypassed.unet + lora.bypassed.te1 + lora.bypassed.te2)
      assert.equal(lora.bypassed.unet, lora.applied.unet)
      assert.equal(lora.bypassed.te1, lora.applied.te1)
      if (c.arch === 'sd1') {
        assert.equal(r.report.patchedTensors, 0)
        assert.deepEqual(lines, ['LoRA tinylora (tinylora.safetensors): te 0.7, unet 0.7; patched 24 text-encoder and 256 UNet module(s); 280 bypassed (low-rank branches), 0 merged'])
      } else {
        assert.equal(lora.bypassed.te2, lora.applied.te2 / 2, 'bigG: out_proj, fc, proj bypassed; q/k/v rows merged')
        assert.ok(model.weights.patchedKeys.every((k) => k.endsWith('.attn.in_proj_weight')), 'only open_clip in_proj is merged')
      }
    } finally {
      await model.release()
    }
  })
}

test('sd1: a Tucker LoCon (lora_mid) on 3×3 convs, incl. a strided one, runs as tucker slots and equals merge mode', async () => {
  const model = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  try {
    const layers = { input_blocks_1_0_in_layers_2: 'input_blocks.1.0.in_layers.2', input_blocks_3_0_op: 'input_blocks.3.0.op' }
    const tensors = new Map<string, HostTensor>()
    const next = rng(1)
    const rand = (shape: number[]) => randomTensor(shape, next, 0.1)
    for (const [name, path] of Object.entries(layers)) {
      const [out, inp, kh, kw] = model.weights.shape(`model.diffusion_model.${path}.weight`)
      tensors.set(`lora_unet_${name}.lora_down.weight`, rand([3, inp, 1, 1]))
      tensors.set(`lora_unet_${name}.lora_mid.weight`, rand([3, 3, kh, kw]))
      tensors.set(`lora_unet_${name}.lora_up.weight`, rand([out, 3, 1, 1]))
      tensors.set(`lora_unet_${name}.alpha`, { shape: [], data: Float32Array.of(1.5) })
    }
    const file = await writeAdapter('tucker', tensors)
    await apply(model, [{ file, te: 0.8, unet: 0.8 }], 'merge')
    const merged = await outputs(model)
    const r = await apply(model, [{ file, te: 0.8, unet: 0.8 }], 'bypass')
    assert.deepEqual([r.report.bypassedLayers, r.report.patchedTensors], [2, 0])
    assertNear((await outputs(model)).unet, merged.unet, 'UNet output')
  } finally {
    await model.release()
  }
})
