import { test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError, SdError, TensorFileError } from '../core/errors.ts'
import { exitCodeOf } from './exit-codes.ts'

test('exit status from the error code: input/usage 2, interrupted 130, other SdErrors and internal errors 1', () => {
  class UsageError extends SdError { override name = 'UsageError' }
  class InterruptedError extends SdError { override name = 'InterruptedError' }
  assert.equal(exitCodeOf(new InputError('x')), 2)
  assert.equal(exitCodeOf(new UsageError('x')), 2)
  assert.equal(exitCodeOf(new InterruptedError('x')), 130)
  assert.equal(exitCodeOf(new SdError('x', { code: 'input/sampler' })), 2)
  assert.equal(exitCodeOf(new TensorFileError('a', undefined, 'x')), 1)
  assert.equal(exitCodeOf(new Error('x')), 1)
})
