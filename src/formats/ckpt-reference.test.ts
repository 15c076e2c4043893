/** The reference pickle checkpoints read through openTensorFile must equal their safetensors twins. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openTensorFile } from './open.ts'
import { ref, refTensors } from '../../test/golden.ts'

test('tiny-sd1.ckpt (fp16 pickle) has exactly the keys and values of tiny-sd1.safetensors', async () => {
  const t0 = performance.now()
  const st = await refTensors('sd1', 'tiny-sd1.safetensors')
  const ck = await openTensorFile(ref('sd1', 'tiny-sd1.ckpt'))
  try {
    assert.equal(ck.format, 'pickle')
    assert.deepEqual([...ck.keys()].sort(), [...st.keys()].sort())
    assert.equal(ck.keys().length, 1011)
    const dtypes = new Set<string>()
    for (const key of st.keys()) {
      const a = ck.info(key)
      assert.deepEqual(a.shape, st.info(key).shape, key)
      dtypes.add(`${st.info(key).dtype}->${a.dtype}`)
      assert.deepEqual(await ck.readF32(key), await st.readF32(key), key)
    }
    assert.deepEqual([...dtypes].sort(), ['F32->F16', 'F32->F32', 'I64->I64'])
  } finally { await ck.close() }
  assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`)
})

test('tinyemb.pt gives string_to_param.* [2, 32] and its A1111 fields as metadata', async () => {
  const src = await openTensorFile(ref('sd1', 'adapters', 'embeddings', 'tinyemb.pt'))
  try {
    assert.deepEqual(src.keys(), ['string_to_param.*'])
    assert.deepEqual(src.info('string_to_param.*'), { ...src.info('string_to_param.*'), dtype: 'F32', shape: [2, 32], byteLength: 256 })
    assert.deepEqual({ ...src.metadata }, { 'string_to_token.*': '265', name: 'tinyemb', step: '100' })
    const v = await src.readF32('string_to_param.*')
    assert.equal(v.length, 64)
    assert.ok(v.every(Number.isFinite) && v.some((x) => x !== 0))
  } finally { await src.close() }
})
