import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WeightStore } from './weights.ts'
import { TensorFileError } from '../core/errors.ts'

const store = (): WeightStore => {
  const s = new WeightStore('m.safetensors')
  s.set('model.diffusion_model.out.0.weight', [2], new Float32Array([1, 2]))
  s.set('cond_stage_model.transformer.text_model.final_layer_norm.weight', [2], new Float32Array([3, 4]))
  s.set('first_stage_model.decoder.conv_in.bias', [1], new Float32Array([5]))
  return s
}

test('patches shadow base arrays; clearing them gives back the base arrays themselves', () => {
  const s = store()
  const base = s.get('model.diffusion_model.out.0.weight')
  const patched = new Float32Array([9, 9])
  s.setPatches(new Map([['model.diffusion_model.out.0.weight', patched]]))
  assert.equal(s.get('model.diffusion_model.out.0.weight'), patched)
  assert.equal(s.getBase('model.diffusion_model.out.0.weight'), base)
  s.setPatches(new Map())
  assert.equal(s.get('model.diffusion_model.out.0.weight'), base)
})

test('drop forgets base and patched tensors under the given prefixes only', () => {
  const s = store()
  s.setPatches(new Map([['model.diffusion_model.out.0.weight', new Float32Array([9, 9])]]))
  assert.equal(s.drop(['model.diffusion_model.', 'cond_stage_model.']), 2)
  assert.deepEqual([...s.keys()], ['first_stage_model.decoder.conv_in.bias'])
  assert.deepEqual(s.patchedKeys, [])
  assert.throws(() => s.get('model.diffusion_model.out.0.weight'),
    new TensorFileError('m.safetensors', 'model.diffusion_model.out.0.weight', 'not in the loaded weights'))
})
