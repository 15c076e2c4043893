import { test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError, ModelMismatchError, SdError, TensorFileError, UnknownModelError } from './errors.ts'

test('every SdError has a machine-readable code: its kebab class name, or a finer one given at the throw site', () => {
  assert.equal(new TensorFileError('/m/a.safetensors', 'w', 'bad offsets').code, 'tensor-file')
  assert.equal(new ModelMismatchError('a.safetensors', 'x').code, 'model-mismatch')
  assert.equal(new UnknownModelError('a.safetensors', 'x').code, 'unknown-model')
  assert.equal(new SdError('x').code, 'sd')
  assert.equal(new SdError('x', { code: 'tensor-file/offsets' }).code, 'tensor-file/offsets')
  class InterruptedError extends SdError { override name = 'InterruptedError' }
  assert.equal(new InterruptedError('stop').code, 'interrupted')
})

test('InputError: zod-style issues; a message alone is one issue naming no field; the message joins the issues', () => {
  const one = new InputError('steps must be a whole number from 1 to 1000, got 0')
  assert.equal(one.code, 'input')
  assert.deepEqual(one.issues, [{ code: 'invalid', path: [], message: 'steps must be a whole number from 1 to 1000, got 0' }])
  const two = new InputError([
    { code: 'type', path: ['steps'], message: 'steps must be a number, got "x"' },
    { code: 'required', path: ['prompt'], message: 'prompt is required' },
  ])
  assert.equal(two.message, 'steps must be a number, got "x"; prompt is required')
  assert.deepEqual(two.issues.map((i) => i.path), [['steps'], ['prompt']])
  assert.ok(two instanceof SdError)
})
