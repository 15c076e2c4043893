/*
 * An invariant for the embeddings path on SD2 (open_clip tokenizer for the names, OpenCLIP text tower), which has no
 * golden: an embedding whose one vector is the model's own token embedding of "cat" must give exactly the
 * conditioning of the same prompt with the word "cat" in its place (A1111 writes the vector over the placeholder's
 * token embedding; position embeddings and everything after are shared).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeF32As, writeSafetensors } from '../../src/formats/safetensors-writer.ts'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import { loadModel, type LoadedModel } from '../../src/pipeline/load-model.ts'
import { prepareAdapters } from '../../src/pipeline/adapters.ts'
import { ref } from '../golden.ts'
import { tokenizer } from './pipeline-goldens.ts'

const TOKEN_TABLE = 'cond_stage_model.model.token_embedding.weight'

let model: LoadedModel
let dir: string
before(async () => {
  model = await loadModel(ref('sd2', 'tiny-sd2-v.safetensors'), { threads: 1, prediction: 'v' })
  dir = await mkdtemp(join(tmpdir(), 'sdloom-sd2-emb-'))
})
after(async () => {
  await model.release()
  await rm(dir, { recursive: true, force: true })
})

test('SD2: an embedding holding the token vector of "cat" conditions exactly as the word "cat"', async () => {
  const ids = tokenizer.withFlavor('open-clip').encode('cat')
  assert.equal(ids.length, 1)
  const [, width] = model.weights.shape(TOKEN_TABLE)
  const row = model.weights.get(TOKEN_TABLE).slice(ids[0] * width, (ids[0] + 1) * width)
  await writeSafetensors(join(dir, 'felinoid.safetensors'), [{ name: 'emb_params', dtype: 'F32', shape: [1, width], data: encodeF32As('F32', row) }])
  const prepared = await prepareAdapters(model, { loras: [], embeddingsDir: dir, tokenizer, hashCache: false }, () => undefined)
  assert.deepEqual(prepared.report.embeddings.loaded, ['felinoid'])
  const cond = async (prompt: string) => (await buildConditioning(model, {
    prompt, negativePrompt: '', scheduleSteps: 1, clipSkip: 1, tokenizer, embeddings: prepared.embeddings, width: 64, height: 64,
  })).condAt(0)[0].context
  const withEmbedding = await cond('a photo of a felinoid, (masterpiece:1.2)')
  assert.deepEqual(withEmbedding, await cond('a photo of a cat, (masterpiece:1.2)'))
  assert.equal(prepared.infotext.tiHashes.length, 1)
  assert.equal(prepared.infotext.tiHashes[0].name, 'felinoid')
})
