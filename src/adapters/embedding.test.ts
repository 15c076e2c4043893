/** Embedding files (A1111 .pt, safetensors emb_params, SDXL clip_l/clip_g, diffusers .bin), folder scans, bundles. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readRefJson, ref, refTensors } from '../../test/golden.ts'
import { writeTorchCkpt } from '../../test/fixtures/torch-pickle-writer.ts'
import { adapterFromTensors } from './adapter-file.ts'
import { bundledEmbeddings, embeddingFromTensors, embeddingWidths, loadEmbedding, loadEmbeddingDir } from './embedding.ts'
import { randomTensor, rng } from './testing/reference-ops.ts'
import type { BaseWeights } from './types.ts'

const keysBase = (...parts: string[]): BaseWeights => {
  const keys = readRefJson<Record<string, { shape: number[] }>>(...parts)
  return { has: (k) => k in keys, shape: (k) => keys[k].shape, get: () => { throw new Error('shapes only') } }
}
const SD1 = embeddingWidths(keysBase('sd1', 'tiny-sd1.keys.json'), 'sd1')
const SDXL = embeddingWidths(keysBase('sdxl', 'tiny-sdxl-base.keys.json'), 'sdxl')

test('expected widths come from the token-embedding shapes of each architecture', () => {
  assert.deepEqual(SD1, { te1: 32 })
  assert.deepEqual(embeddingWidths(keysBase('sd2', 'tiny-sd2-v.keys.json'), 'sd2'), { te1: 32 })
  assert.deepEqual(SDXL, { te1: 32, te2: 32 })
})

test('A1111 .pt (string_to_param) and safetensors emb_params load under the file stem', async () => {
  const emb = await loadEmbedding(ref('sd1', 'adapters', 'embeddings', 'tinyemb.pt'))
  assert.equal(emb.name, 'tinyemb')
  assert.equal(emb.layout, 'a1111')
  assert.deepEqual(emb.vectors.te1.shape, [2, 32])
  assert.equal(emb.count, 2)
  const neg = await loadEmbedding(ref('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'))
  assert.deepEqual([neg.name, neg.layout, neg.count], ['tinyneg', 'diffusers', 3])
  const raw = await (await refTensors('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors')).readF32('emb_params')
  assert.deepEqual([...neg.vectors.te1.data], [...raw])
})

test('SDXL clip_l + clip_g embedding: vectors equal the golden rows', async () => {
  const emb = await loadEmbedding(ref('sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors'))
  const golden = await refTensors('sdxl', 'adapters', 'sdxl_adapter_goldens.safetensors')
  assert.deepEqual([emb.name, emb.layout, emb.count], ['tinyxlemb', 'sdxl', readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json').textual_inversion.vectors])
  assert.deepEqual([...emb.vectors.te1.data], [...await golden.readF32('ti.vec.clip_l')])
  assert.deepEqual([...emb.vectors.te2!.data], [...await golden.readF32('ti.vec.clip_g')])
})

test('a folder scan is recursive, keeps what fits and lists the rest as skipped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-emb-'))
  try {
    await mkdir(join(dir, 'sub'))
    await copyFile(ref('sd1', 'adapters', 'embeddings', 'tinyemb.pt'), join(dir, 'tinyemb.pt'))
    await copyFile(ref('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'), join(dir, 'sub', 'tinyneg.safetensors'))
    await copyFile(ref('sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors'), join(dir, 'tinyxlemb.safetensors'))
    const vec = randomTensor([32], rng(3))
    await writeTorchCkpt(join(dir, 'sub', 'cat-toy.bin'), { '<cat-toy>': { dtype: 'F32', shape: [32], data: vec.data } })
    await writeTorchCkpt(join(dir, 'wide.bin'), { '<wide>': { dtype: 'F32', shape: [48], data: randomTensor([48], rng(4)).data } })
    await writeTorchCkpt(join(dir, 'two.bin'), { '<a>': { dtype: 'F32', shape: [32], data: vec.data }, '<b>': { dtype: 'F32', shape: [32], data: vec.data } })
    await writeFile(join(dir, 'empty.pt'), new Uint8Array())
    await writeFile(join(dir, 'readme.txt'), 'not an embedding')
    const sd1 = await loadEmbeddingDir(dir, SD1)
    assert.deepEqual([...sd1.loaded.keys()].sort(), ['cat-toy', 'tinyemb', 'tinyneg'])
    const cat = sd1.loaded.get('cat-toy')!
    assert.deepEqual([cat.layout, cat.count, ...cat.vectors.te1.shape], ['diffusers', 1, 1, 32])
    assert.deepEqual([...cat.vectors.te1.data], [...vec.data])
    assert.deepEqual(sd1.skipped.map((s) => [s.name, s.reason]), [
      ['empty', 'empty file'],
      ['tinyxlemb', 'vector width clip_l 32 + clip_g 32 does not fit this model\'s text encoder (32)'],
      ['two', 'two.bin: not a textual-inversion embedding: expected string_to_param.*, clip_l + clip_g, or a single tensor; found 2 tensors (<a>, <b>)'],
      ['wide', 'vector width 48 does not fit this model\'s text encoder (32)'],
    ])
    const xl = await loadEmbeddingDir(dir, SDXL)
    assert.deepEqual([...xl.loaded.keys()], ['tinyxlemb'])
    assert.equal(xl.skipped.find((s) => s.name === 'tinyemb')?.reason, 'vector width 32 does not fit this model\'s text encoder (clip_l 32 + clip_g 32)')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('bundle_emb.* in a LoRA become embeddings named by their bundle key', async () => {
  const next = rng(5)
  const adapter = adapterFromTensors({
    file: '/x/style.safetensors',
    tensors: new Map([
      ['bundle_emb.stylish.string_to_param.*', randomTensor([2, 32], next)],
      ['bundle_emb.xlstyle.clip_l', randomTensor([1, 32], next)],
      ['bundle_emb.xlstyle.clip_g', randomTensor([1, 32], next)],
    ]),
  })
  const embs = bundledEmbeddings(adapter)
  assert.deepEqual(embs.map((e) => [e.name, e.layout, e.count, e.file]), [
    ['stylish', 'a1111', 2, '/x/style.safetensors/stylish'],
    ['xlstyle', 'sdxl', 1, '/x/style.safetensors/xlstyle'],
  ])
  assert.equal(adapter.modules.length, 0)
  assert.throws(() => embeddingFromTensors('bad', 'bad.safetensors', new Map([['clip_l', randomTensor([2, 32], next)], ['clip_g', randomTensor([1, 32], next)]])),
    { message: 'bad.safetensors: clip_l [2, 32] and clip_g [1, 32] have different numbers of vectors' })
})

