/*
 * Bypass mode (pipeline/adapters.ts mode 'bypass'): LoRA layers run as unmerged low-rank branches in the UNet and
 * text-encoder graphs. Their outputs equal merge mode's within float tolerance (SD1 and SDXL tiny models); a switch
 * between LoRAs is tested in adapters-bypass-switch.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { maxAbsDiff, ref } from '../golden.ts'
import { apply, assertNear, outputs, LORA, XL_LORA } from './adapters-bypass-helpers.ts'

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
