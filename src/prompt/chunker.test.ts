import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson, TOKENIZER_DIR } from '../../test/golden.ts'
import { createClipTokenizer } from './clip-tokenizer.ts'
import { tokenizeLine, encoderInputIds, emptyChunk, CHUNK_TOKENS, type PromptChunk } from './chunker.ts'
import { buildEmbeddingIndex } from './embedding-index.ts'

const clip = createClipTokenizer(TOKENIZER_DIR)
const openClip = clip.withFlavor('open-clip')
const ids = (chunks: readonly PromptChunk[], pad: number): number[][] => chunks.map((c) => encoderInputIds(c, pad, clip.eos))

test('sd1 goldens: A1111 tokenize_line chunks, multipliers and token count', () => {
  for (const p of readRefJson('sd1', 'goldens', 'tokenizer.json').prompts) {
    const line = tokenizeLine(p.prompt, { tokenizer: clip })
    const what = JSON.stringify(p.prompt)
    assert.equal(line.tokenCount, p.a1111_token_count, what)
    assert.deepEqual(line.chunks.map((c) => c.tokens), p.a1111_chunks.map((c: PromptChunk) => c.tokens), what)
    assert.deepEqual(line.chunks.map((c) => c.multipliers), p.a1111_chunks.map((c: PromptChunk) => c.multipliers), what)
    assert.deepEqual(ids(line.chunks, clip.eos), p.a1111_chunks.map((c: PromptChunk) => c.tokens), what)
  }
})

test('sd2 goldens: open_clip ids, zeros after the first EOS in what the encoder sees', () => {
  for (const p of readRefJson('sd2', 'goldens', 'tokenizer.json').prompts) {
    const line = tokenizeLine(p.prompt, { tokenizer: openClip })
    const what = JSON.stringify(p.prompt)
    assert.equal(line.tokenCount, p.a1111_token_count, what)
    assert.deepEqual(line.chunks.map((c) => c.tokens), p.a1111_chunks.map((c: PromptChunk) => c.tokens), what)
    assert.deepEqual(ids(line.chunks, 0), p.a1111_chunks.map((c: { encoded_tokens: number[] }) => c.encoded_tokens), what)
    assert.deepEqual(line.chunks.map((c) => c.multipliers), p.a1111_chunks.map((c: PromptChunk) => c.multipliers), what)
  }
})

test('sdxl goldens: CLIP-L keeps EOS padding, bigG gets zeros', () => {
  for (const p of readRefJson('sdxl', 'goldens', 'tokenizer.json').prompts) {
    const l = tokenizeLine(p.prompt, { tokenizer: clip })
    const g = tokenizeLine(p.prompt, { tokenizer: openClip })
    const what = JSON.stringify(p.prompt)
    assert.equal(l.tokenCount, p.a1111_token_count, what)
    assert.deepEqual(ids(l.chunks, clip.eos), p.clip_l_chunks.map((c: { encoded_tokens: number[] }) => c.encoded_tokens))
    assert.deepEqual(ids(g.chunks, 0), p.bigG_chunks.map((c: { encoded_tokens: number[] }) => c.encoded_tokens), what)
    assert.deepEqual(l.chunks.map((c) => c.multipliers), p.clip_l_chunks.map((c: PromptChunk) => c.multipliers), what)
  }
})

test('sd1 textual inversion: placeholders, fixes and token counts (ti.J)', () => {
  const ti = readRefJson('sd1', 'adapters', 'adapter_goldens.json').textual_inversion
  for (const [name, nameIds] of Object.entries(ti.embedding_name_ids)) assert.deepEqual(clip.encode(name), nameIds)
  const index = buildEmbeddingIndex(clip, [{ name: 'tinyemb', vectors: 2 }, { name: 'tinyneg', vectors: 3 }])
  for (const e of ti.entries) {
    const line = tokenizeLine(e.prompt, { tokenizer: clip, embeddings: index })
    assert.equal(line.tokenCount, e.token_count, e.key)
    const got = line.chunks.map((c) => ({
      tokens: c.tokens, multipliers: c.multipliers,
      fixes: c.fixes.map((f) => ({ offset: f.offset, embedding: f.name, vectors: f.vectors })),
    }))
    assert.deepEqual(got, e.chunks, e.key)
  }
})

test('sdxl textual inversion: same placeholders for CLIP-L and bigG', () => {
  const ti = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json').textual_inversion
  const emb = [{ name: ti.name, vectors: ti.vectors }]
  assert.deepEqual([clip.encode(ti.name)], ti.name_ids)
  const index = buildEmbeddingIndex(clip, emb)   // one index (CLIP-L ids) for both encoders, as A1111
  for (const e of ti.entries) {
    const l = tokenizeLine(e.prompt, { tokenizer: clip, embeddings: index })
    const g = tokenizeLine(e.prompt, { tokenizer: openClip, embeddings: index })
    assert.equal(l.tokenCount, e.token_count, e.key)
    assert.deepEqual(l.chunks[0].tokens, e.clip_l_tokens, e.key)
    assert.deepEqual(g.chunks[0].tokens, e.bigG_tokens, e.key)
    assert.deepEqual(l.chunks[0].multipliers, e.multipliers, e.key)
    assert.deepEqual(l.chunks[0].fixes.map((f) => [f.offset, f.name]), e.fixes_clip_l, e.key)
    assert.deepEqual(g.chunks[0].fixes.map((f) => [f.offset, f.name]), e.fixes_bigG, e.key)
  }
})

test('an embedding that does not fit the rest of a chunk starts the next one', () => {
  const index = buildEmbeddingIndex(clip, [{ name: 'tinyemb', vectors: 2 }])
  const word = clip.encode('landscape')
  assert.equal(word.length, 1)
  const line = tokenizeLine(`${'landscape '.repeat(74)}tinyemb`, { tokenizer: clip, embeddings: index })
  assert.equal(line.chunks.length, 2)
  assert.deepEqual(line.chunks[0].tokens.slice(1, 76), [...new Array(74).fill(word[0]), clip.eos])
  assert.deepEqual(line.chunks[1].fixes, [{ offset: 0, name: 'tinyemb', vectors: 2 }])
  assert.equal(line.tokenCount, 75 + 2)
})

test("emphasis 'None' reads brackets and BREAK as text", () => {
  const line = tokenizeLine('(cat) BREAK dog', { tokenizer: clip, emphasis: 'None' })
  assert.equal(line.chunks.length, 1)
  assert.deepEqual(line.chunks[0].tokens.slice(1, 1 + line.tokenCount), clip.encode('(cat) BREAK dog'))
  assert.ok(line.chunks[0].multipliers.every((m) => m === 1))
})

test('empty chunk: BOS then EOS, weights 1', () => {
  const c = emptyChunk(clip)
  assert.equal(c.tokens.length, CHUNK_TOKENS)
  assert.deepEqual(c.tokens, tokenizeLine('', { tokenizer: clip }).chunks[0].tokens)
  assert.ok(c.multipliers.every((m) => m === 1))
})

test('invalid embeddings are InputErrors', () => {
  assert.throws(() => buildEmbeddingIndex(clip, [{ name: 'x', vectors: 0 }]), {
    name: 'InputError',
    message: 'embedding "x": expected a positive whole number of vectors, found 0. Hint: the embedding file holds no vectors.',
  })
  assert.throws(() => buildEmbeddingIndex(clip, [{ name: ' ', vectors: 1 }]), {
    name: 'InputError',
    message: 'embedding " ": its name gives no tokens, so no prompt can use it. Hint: rename the file.',
  })
})
