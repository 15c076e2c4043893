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

test('F16 weights held as half bits: read widened, fed as float16 until patched, a one-shot merge makes them float32', () => {
  const s = store()
  const key = 'model.diffusion_model.in.0.weight'
  const bits = new Uint16Array([0x3c00, 0xc000])                        // 1, -2
  s.setF16(key, [2], bits)
  assert.equal(s.isF16(key), true)
  assert.equal(s.float16(key), bits)
  assert.deepEqual([...s.get(key)], [1, -2])
  assert.equal(s.heldBytes(), 2 * 4 + 2 * 4 + 4 + 2 * 2)
  const signature = s.widthSignature('model.diffusion_model.')
  s.setPatches(new Map([[key, new Float32Array([1.5, -2])]]))
  assert.equal(s.isF16(key), false, 'a patched weight is fed as float32')
  assert.equal(s.float16(key), undefined)
  assert.notEqual(s.widthSignature('model.diffusion_model.'), signature, 'sessions bound as float16 are rebuilt')
  assert.equal(s.widthSignature('first_stage_model.'), '0:', 'other networks keep theirs')
  s.setPatches(new Map())
  assert.equal(s.widthSignature('model.diffusion_model.'), signature)
  const merged = s.getBase(key)
  merged[0] = 1.25
  s.commit(key, merged)
  assert.equal(s.isF16(key), false)
  assert.equal(s.get(key), merged, 'committed as that float32 array, not rounded back to half')
})
