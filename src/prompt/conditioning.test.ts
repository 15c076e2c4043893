import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, TOKENIZER_DIR } from '../../test/golden.ts'
import { createClipTokenizer } from './clip-tokenizer.ts'
import { tokenizeLine, CHUNK_TOKENS } from './chunker.ts'
import { encodeTexts, stackConds, type ChunkEncoder } from './conditioning.ts'

const clip = createClipTokenizer(TOKENIZER_DIR)
const DIM = 2
/** A stand-in encoder: z[t] = [ids[t] % 7 + 1, ids[t] % 5 + 2]; pooled = [ids[1]]. */
const fakeRows = (ids: readonly number[]): Float32Array => Float32Array.from(ids.flatMap((id) => [id % 7 + 1, id % 5 + 2]))
const seen: number[][] = []
const fake: ChunkEncoder = async (ids) => {
  seen.push([...ids])
  return { z: fakeRows(ids), pooled: Float32Array.of(ids[1]) }
}
const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0) / a.length

test('weights of 1: the conditioning is the encoder output of the chunk', async () => {
  const [c] = await encodeTexts(['a photo of a cat'], { tokenizer: clip, encode: fake, padId: clip.eos })
  const chunk = tokenizeLine('a photo of a cat', { tokenizer: clip }).chunks[0]
  assert.equal(c.tokens, CHUNK_TOKENS)
  assert.equal(c.dim, DIM)
  assert.deepEqual([...c.z], [...fakeRows(chunk.tokens)])
  assert.deepEqual([...(c.pooled ?? [])], [chunk.tokens[1]])
  assert.equal(c.tokenCount, 5)
})

test('a batch is padded to the same chunk count; Original emphasis keeps the mean over the whole batch', async () => {
  const long = 'cat, '.repeat(40)
  const texts = ['a (dog:1.5) on a mat', long]
  const out = await encodeTexts(texts, { tokenizer: clip, encode: fake, padId: clip.eos })
  assert.deepEqual(out.map((o) => o.tokens), [2 * CHUNK_TOKENS, 2 * CHUNK_TOKENS])
  const lines = texts.map((t) => tokenizeLine(t, { tokenizer: clip }))
  const raw0 = [...fakeRows(lines[0].chunks[0].tokens), ...fakeRows(lines[1].chunks[0].tokens)]
  const got0 = [...out[0].z.subarray(0, CHUNK_TOKENS * DIM), ...out[1].z.subarray(0, CHUNK_TOKENS * DIM)]
  assertClose([mean(got0)], [mean(raw0)], 1e-5, 'batch mean of chunk 0')
  // text 0 has no second chunk: it gets A1111's empty chunk (BOS + EOS), weights 1, in a batch whose weights are 1
  const emptyIds = [clip.bos, ...new Array(CHUNK_TOKENS - 1).fill(clip.eos)]
  assert.deepEqual([...out[0].z.subarray(CHUNK_TOKENS * DIM)], [...fakeRows(emptyIds)])
})

test('OpenCLIP encoders get zeros after the first EOS', async () => {
  seen.length = 0
  await encodeTexts(['a cat'], { tokenizer: clip, encode: fake, padId: 0 })
  const ids = tokenizeLine('a cat', { tokenizer: clip }).chunks[0].tokens
  const eosAt = ids.indexOf(clip.eos)
  assert.deepEqual(seen[0], [...ids.slice(0, eosAt + 1), ...new Array(CHUNK_TOKENS - eosAt - 1).fill(0)])
})

test('stackConds repeats the last token vector of shorter conditionings', () => {
  const short = { z: Float32Array.of(1, 2, 3, 4), tokens: 2, dim: 2, tokenCount: 0 }
  const long = { z: Float32Array.of(0, 0, 0, 0, 0, 0), tokens: 3, dim: 2, tokenCount: 0 }
  assert.deepEqual(stackConds([short, long]).map((a) => [...a]), [[1, 2, 3, 4, 3, 4], [0, 0, 0, 0, 0, 0]])
})

test('an encoder that returns the wrong size is a ShapeMismatchError', async () => {
  const bad: ChunkEncoder = async () => ({ z: new Float32Array(5) })
  await assert.rejects(encodeTexts(['x'], { tokenizer: clip, encode: bad, padId: clip.eos }), {
    name: 'ShapeMismatchError',
    message: 'text encoder: tensor "z": expected [77], found [5]. '
      + 'Hint: the encoder must return 77 × dim values (one row per token) for each chunk, the same dim for all.',
  })
})
