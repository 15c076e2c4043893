/*
 * Bypass mode: a switch between LoRAs with the same layout keeps the built sessions and equals a fresh model; removing
 * all adapters or changing the layout rebuilds them; a LoKr stacked on some of the LoRA's layers makes exactly those
 * layers merged, and the result still matches merge mode.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { ref } from '../golden.ts'
import { apply, assertNear, outputs, rewrite, LOKR, LORA } from './adapters-bypass-helpers.ts'

test('sd1: A → B (same layout) keeps the sessions and equals a fresh model; none and a layout change rebuild', async () => {
  const b = await rewrite(LORA, 'tinylora-b', () => true, (k, d) => (k.endsWith('lora_up.weight') ? d.map((v) => -2 * v) : d))
  const model = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  const fresh = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  try {
    await apply(model, [{ file: LORA, te: 0.7, unet: 0.7 }], 'bypass')
    await outputs(model)
    const [unet, te] = [await model.unet(), await model.textEncoders(1)]
    await apply(model, [{ file: b, te: 0.5, unet: 0.5 }], 'bypass')
    const switched = await outputs(model)
    assert.equal(await model.unet(), unet, 'the UNet session was rebuilt for the same layout')
    assert.equal(await model.textEncoders(1).then((t) => 'encoder' in t && t.encoder), 'encoder' in te && te.encoder, 'the text-encoder session was rebuilt')
    await apply(fresh, [{ file: b, te: 0.5, unet: 0.5 }], 'bypass')
    assert.deepEqual(switched, await outputs(fresh), 'after a switch: not the fresh model\'s result')
    await apply(model, [], 'bypass')
    const none = await outputs(model)
    assert.notEqual(await model.unet(), unet, 'no adapters: the session without branches is built')
    await apply(fresh, [], 'merge')
    assert.deepEqual(none, await outputs(fresh), 'no adapters: not the base model\'s result')
  } finally {
    await model.release()
    await fresh.release()
  }
})

test('sd1: a LoKr on some of the LoRA\'s layers makes exactly those merged; the result matches merge mode', async () => {
  const attn1 = (k: string) => k.startsWith('lora_unet_') && k.includes('_attn1_')
  const lokr = await rewrite(LOKR, 'tinylokr-attn1', attn1)
  const stack = [{ file: LORA, te: 0.7, unet: 0.7 }, { file: lokr, te: 0.5, unet: 0.5 }]
  const model = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  try {
    await apply(model, stack, 'merge')
    const merged = await outputs(model)
    await apply(model, [{ file: LORA, te: 0.7, unet: 0.7 }], 'bypass')
    await outputs(model)
    const unet = await model.unet()
    const r = await apply(model, stack, 'bypass')
    const bypassed = await outputs(model)
    assert.notEqual(await model.unet(), unet, 'a layout change must rebuild the UNet session')
    const [lora, kr] = r.report.loras
    assert.ok(kr.applied.unet > 0 && kr.applied.unet < lora.applied.unet && kr.applied.te1 === 0, 'the LoKr covers some UNet layers only')
    assert.deepEqual([lora.bypassed.unet, lora.bypassed.te1, kr.bypassed.unet], [lora.applied.unet - kr.applied.unet, 24, 0])
    assert.deepEqual(model.weights.patchedKeys.length, kr.applied.unet)
    assertNear(bypassed.unet, merged.unet, 'UNet output')
    assertNear(bypassed.cond, merged.cond, 'conditioning')
  } finally {
    await model.release()
  }
})

test('sd1: changing mode with the same LoRA (bypass to settle a switch, merge later) equals a fresh model in that mode', async () => {
  const lora = [{ file: LORA, te: 0.7, unet: 0.7 }]
  const load = () => loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  const [model, onlyMerged, onlyBypassed] = [await load(), await load(), await load()]
  try {
    await apply(onlyMerged, lora, 'merge')
    await apply(onlyBypassed, lora, 'bypass')
    await apply(model, lora, 'bypass')
    await outputs(model)
    await apply(model, lora, 'merge')
    assert.equal(model.weights.lowRankLayout().size, 0, 'merge mode feeds no branches')
    assert.deepEqual(await outputs(model), await outputs(onlyMerged), 'bypass → merge: not what a fresh merge gives')
    await apply(model, lora, 'bypass')
    assert.deepEqual(model.weights.patchedKeys, [], 'bypass mode: every LoRA layer reads its base array again')
    assert.deepEqual(await outputs(model), await outputs(onlyBypassed), 'merge → bypass: not what a fresh bypass gives')
  } finally {
    for (const m of [model, onlyMerged, onlyBypassed]) await m.release()
  }
})
