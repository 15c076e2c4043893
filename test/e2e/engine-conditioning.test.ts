/*
 * The Engine's conditioning cache keys on what the text encoders actually see: an embedding file replaced under the
 * same name (other vectors) or a LoRA file replaced under the same name gives a new conditioning, never the cached
 * one. The embedding holds the token vector of a word, so its image equals that word's image (an independent check).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { GenerationRequest } from '../../src/engine/contract.ts'
import { encodeF32As, writeSafetensors } from '../../src/formats/safetensors-writer.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { tokenizer } from './pipeline-goldens.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')
const TOKEN_TABLE = 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight'
const REQ: GenerationRequest = { mode: 'txt2img', model: SD1, prompt: 'a photo of a felis', steps: 2, seed: 5, rng: 'cpu', width: 64, height: 64, sampler: 'Euler' }

/** Rewrites `file` with a later mtime (a quick rewrite could keep the old one on a coarse clock). */
async function touchLater(file: string, seconds: number): Promise<void> {
  const t = new Date(Date.now() + seconds * 1000)
  await utimes(file, t, t)
}

test('an embedding or a LoRA replaced under the same name does not reuse the cached conditioning', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-cond-'))
  const embeddings = join(dir, 'embeddings')
  const loras = join(dir, 'loras')
  const engine = new Engine({
    resolver: fileResolver({ embeddingsDir: embeddings, lorasDir: loras }), tokenizerDir: TOKENIZER_DIR, hashCache: false,
    loader: (spec, opts) => loadModel(spec.file, { ...opts, threads: 1 }),
  })
  try {
    const model = await loadModel(SD1, { threads: 1 })
    const [, width] = model.weights.shape(TOKEN_TABLE)
    const tokenRow = (word: string): Float32Array => {
      const [id] = tokenizer.encode(word)
      return model.weights.get(TOKEN_TABLE).slice(id * width, (id + 1) * width)
    }
    const writeEmbedding = async (word: string, later: number): Promise<void> => {
      const file = join(embeddings, 'felis.safetensors')
      await writeSafetensors(file, [{ name: 'emb_params', dtype: 'F32', shape: [1, width], data: encodeF32As('F32', tokenRow(word)) }])
      await touchLater(file, later)
    }
    await model.release()
    await mkdir(embeddings)
    await mkdir(loras)

    await writeEmbedding('cat', 10)
    const asCat = await engine.generate(REQ)
    const cat = await engine.generate({ ...REQ, prompt: 'a photo of a cat' })
    assert.deepEqual(asCat.images[0].rgb, cat.images[0].rgb, 'the embedding of "cat" conditions as the word')
    await writeEmbedding('dog', 20)
    const asDog = await engine.generate(REQ)
    const dog = await engine.generate({ ...REQ, prompt: 'a photo of a dog' })
    assert.notDeepEqual(asDog.images[0].rgb, asCat.images[0].rgb)
    assert.deepEqual(asDog.images[0].rgb, dog.images[0].rgb, 'the replaced embedding, not the cached conditioning')
    const [handle] = await engine.cache.handles()
    assert.equal(handle.conditionings.size, 4)

    // a LoRA (text encoder weight 1, UNet weight 0: only the conditioning changes) replaced by another file, same name
    const lora = join(loras, 'style.safetensors')
    const withLora: GenerationRequest = { ...REQ, prompt: 'a photo of a cat', loras: [{ name: 'style', weight: 1, unetWeight: 0 }], loraMode: 'bypass' }
    await copyFile(ref('sd1', 'adapters', 'tinylora.safetensors'), lora)
    await touchLater(lora, 10)
    const first = await engine.generate(withLora)
    await copyFile(ref('sd1', 'adapters', 'tinyloha.safetensors'), lora)
    await touchLater(lora, 20)
    const second = await engine.generate(withLora)
    assert.equal(handle.conditionings.size, 6, 'a new conditioning for the replaced LoRA')
    assert.notDeepEqual(second.images[0].rgb, first.images[0].rgb)
    const fresh = new Engine({
      resolver: fileResolver({ embeddingsDir: embeddings, lorasDir: loras }), tokenizerDir: TOKENIZER_DIR, hashCache: false,
      loader: (spec, opts) => loadModel(spec.file, { ...opts, threads: 1 }),
    })
    assert.deepEqual((await fresh.generate(withLora)).images[0].rgb, second.images[0].rgb, 'equals a fresh engine with the new file')
    await fresh.close()
  } finally {
    await engine.close()
    await rm(dir, { recursive: true, force: true })
  }
})
