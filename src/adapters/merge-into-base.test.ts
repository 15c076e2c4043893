/** PatchSet.mergeIntoBase (one-shot runs): the base arrays end bit-identical to what `update` gives, then it refuses. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HostTensor } from '../core/host-tensor.ts'
import { ref } from '../../test/golden.ts'
import { adapterFromTensors, loadAdapter } from './adapter-file.ts'
import { loadBaseWeights, MemoryBaseWeights } from './memory-base.ts'
import { PatchSet, type PatchEntry } from './patch-set.ts'
import { randomTensor, rng } from './testing/reference-ops.ts'

const copyOf = (base: MemoryBaseWeights): MemoryBaseWeights =>
  new MemoryBaseWeights(base.file, new Map([...base.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }])))

/** A stack with every kind of contribution: low-rank, LoHa, LoKr, a DoRA module and a full diff with a bias delta on layers the LoRA also patches. */
async function stack(): Promise<PatchEntry[]> {
  const next = rng(21)
  const part = (shape: number[]): HostTensor => randomTensor(shape, next)
  const out0 = 'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0'
  const toQ = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q'
  const extra = adapterFromTensors({ file: 'extra.safetensors', tensors: new Map<string, HostTensor>([
    [`${out0}.diff`, part([96, 96])], [`${out0}.diff_b`, part([96])],
    [`${toQ}.lora_down.weight`, part([2, 32])], [`${toQ}.lora_up.weight`, part([32, 2])], [`${toQ}.alpha`, { shape: [], data: Float32Array.of(1) }],
    [`${toQ}.dora_scale`, part([32, 1])],
  ]) })
  const file = (name: string) => loadAdapter(ref('sd1', 'adapters', `${name}.safetensors`))
  return [
    { adapter: await file('tinyloha'), te: 0.2, unet: 0.5 },
    { adapter: await file('tinylora'), te: 1, unet: -1 },
    { adapter: extra, te: 1, unet: 0.7 },
    { adapter: await file('tinylokr'), te: 0.9, unet: 0 },
  ]
}

test('mergeIntoBase writes into the base arrays exactly what update gives as patched copies', async () => {
  const pristine = await loadBaseWeights(ref('sd1', 'tiny-sd1.safetensors'))
  const entries = await stack()
  const expected = await new PatchSet(pristine, 'sd1').update(entries)
  const base = copyOf(pristine)
  const arrays = new Map([...base.tensors].map(([k, t]) => [k, t.data]))
  const set = new PatchSet(base, 'sd1')
  const merged = await set.mergeIntoBase(entries)
  assert.equal(merged.tensors.size, 0, 'no patched copies')
  assert.deepEqual([...merged.changed].sort(), [...expected.changed].sort())
  assert.deepEqual(merged.reports, expected.reports)
  assert.ok(expected.tensors.has('model.diffusion_model.middle_block.1.transformer_blocks.0.attn1.to_out.0.bias'), 'the stack patches a bias')
  for (const [key, data] of arrays) {
    assert.equal(base.get(key), data, `${key}: same array`)
    assert.deepEqual(data, expected.tensors.get(key) ?? pristine.get(key), key)
  }
  await assert.rejects(set.mergeIntoBase(entries), /were already applied once: a one-shot merge into the base weights must be the only change/)
  await assert.rejects(set.update([]), /merged in place by a one-shot call \(mergeIntoBase\), so its adapters cannot change. Hint: load the model again/)
})

test('mergeIntoBase skips excluded keys and zero multipliers, reports progress per layer; an update first makes it refuse', async () => {
  const pristine = await loadBaseWeights(ref('sd1', 'tiny-sd1.safetensors'))
  const lora = await loadAdapter(ref('sd1', 'adapters', 'tinylora.safetensors'))
  const base = copyOf(pristine)
  const keep = 'model.diffusion_model.middle_block.1.proj_in.weight'
  const progress: [number, number][] = []
  const merged = await new PatchSet(base, 'sd1').mergeIntoBase([{ adapter: lora, te: 0, unet: 0.7 }], {
    exclude: new Set([keep]), onProgress: (done, total) => progress.push([done, total]),
  })
  assert.ok(merged.changed.length > 0 && merged.changed.every((k) => k.startsWith('model.diffusion_model.') && k !== keep))
  assert.deepEqual(progress, Array.from({ length: merged.changed.length + 1 }, (_, i) => [i, merged.changed.length]), 'one tick per layer, then done')
  for (const key of base.keys()) {
    if (!merged.changed.includes(key)) assert.deepEqual(base.get(key), pristine.get(key), key)
  }
  const used = new PatchSet(copyOf(pristine), 'sd1')
  await used.update([{ adapter: lora, te: 1, unet: 1 }])
  await assert.rejects(used.mergeIntoBase([]), /were already applied once: a one-shot merge into the base weights must be the only change/)
})
