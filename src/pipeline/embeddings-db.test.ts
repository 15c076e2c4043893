import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adapterFromTensors } from '../adapters/adapter-file.ts'
import { WeightStore } from '../models/weights.ts'
import { createClipTokenizer } from '../prompt/index.ts'
import { TOKENIZER_DIR, ref } from '../../test/golden.ts'
import { collectEmbeddings, loadEmbeddingDb } from './embeddings-db.ts'

const tokenizer = createClipTokenizer(TOKENIZER_DIR)
const TOKEN_KEY = 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight'

/** Just enough of an SD1 model for the widths: a token-embedding table of width 32 (as the tiny reference model). */
function tinySd1(): { arch: 'sd1'; weights: WeightStore } {
  const weights = new WeightStore('tiny')
  weights.set(TOKEN_KEY, [4, 32], new Float32Array(128))
  return { arch: 'sd1', weights }
}

const BROKEN = 'broken.safetensors: unrecognised format: expected safetensors (8-byte length, then "{"), a torch zip checkpoint '
  + '("PK\\x03\\x04"), a torch pickle (0x80) or GGUF ("GGUF"); the file starts with 6e 6f 74 20 61 20 74 65 6e'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-emb-'))
  await mkdir(join(dir, 'neg'))
  await copyFile(ref('sd1', 'adapters', 'embeddings', 'tinyemb.pt'), join(dir, 'tinyemb.pt'))
  await copyFile(ref('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'), join(dir, 'neg', 'tinyneg.safetensors'))
  await writeFile(join(dir, 'broken.safetensors'), 'not a tensor file')
})
after(() => rm(dir, { recursive: true, force: true }))

test('a folder scan: recursive, by stem, broken files skipped with why, A1111 short hashes; cached until a file changes', async () => {
  const db = await loadEmbeddingDb(dir, { te1: 32 })
  assert.deepEqual([...db.loaded.keys()], ['tinyneg', 'tinyemb'])
  assert.deepEqual(db.skipped.map((s) => [s.name, s.reason]), [['broken', BROKEN]])
  const sha = createHash('sha256').update(await readFile(join(dir, 'tinyemb.pt'))).digest('hex').slice(0, 12)
  assert.equal(db.hashes.get('tinyemb'), sha)
  assert.equal(await loadEmbeddingDb(dir, { te1: 32 }), db, 'unchanged folder: the cached scan')
  assert.notEqual(await loadEmbeddingDb(dir, { te1: 768 }), db, 'other widths: another scan')
  const later = new Date(Date.now() + 5000)
  await utimes(join(dir, 'tinyemb.pt'), later, later)
  assert.notEqual(await loadEmbeddingDb(dir, { te1: 32 }), db, 'a touched file: rescanned')
})

test('bundled embeddings are registered unless the folder has the name; TI hashes list folder embeddings once, as used', async () => {
  const vec = (n: number) => ({ shape: [n, 32], data: new Float32Array(n * 32).fill(0.5) })
  const adapter = adapterFromTensors({
    file: '/loras/pack.safetensors',
    tensors: new Map([['bundle_emb.packword.string_to_param.*', vec(2)], ['bundle_emb.tinyneg.emb_params', vec(1)]]),
  })
  const c = await collectEmbeddings({ model: tinySd1(), tokenizer, dir, adapters: [adapter] })
  assert.deepEqual(c.report.bundled, ['packword'])
  assert.deepEqual(c.report.skipped.map((s) => [s.name, s.reason.replace(dir, 'DIR')]), [
    ['broken', BROKEN],
    ['tinyneg', 'the name is already taken by DIR/neg/tinyneg.safetensors'],
  ])
  assert.equal(c.embeddings.index.size, 3)
  assert.deepEqual(c.embeddings.vectors('packword', 'te1').map((r) => r.length), [32, 32])
  c.embeddings.used?.('tinyneg')
  c.embeddings.used?.('packword')
  c.embeddings.used?.('tinyneg')
  const sha = createHash('sha256').update(await readFile(join(dir, 'neg', 'tinyneg.safetensors'))).digest('hex').slice(0, 12)
  assert.deepEqual(c.tiHashes, [{ name: 'tinyneg', hash: sha }])
})
