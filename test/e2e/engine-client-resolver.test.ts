/*
 * What the caller's resolver knows crosses to the worker thread with the request: the checkpoint's SHA-256
 * (ModelResolver.knownSha256: the worker then hashes nothing, and reports that identity) and the TAESD decoder files
 * (ModelResolver.taesd: full-size previews in the worker).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { EngineClient } from '../../src/engine/client.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { EngineEvent } from '../../src/engine/contract.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')

test('worker client: the resolver\'s SHA-256 and TAESD files reach the worker', async () => {
  // a made-up hash: only the resolver could have told the worker this one (it trusts its resolver as with paths)
  const sha = 'ab'.repeat(32)
  assert.notEqual(createHash('sha256').update(await readFile(SD1)).digest('hex'), sha)
  const client = new EngineClient({
    resolver: { ...fileResolver(), knownSha256: async () => sha, taesd: async (family) => (family === 'sd' ? ref('taesd', 'taesd_decoder.safetensors') : undefined) },
    tokenizerDir: TOKENIZER_DIR, hashCache: false, threads: 1,
  })
  try {
    const events: EngineEvent[] = []
    const result = await client.generate({
      mode: 'txt2img', model: SD1, prompt: 'a cat', steps: 2, seed: 1, rng: 'cpu', width: 64, height: 64, previewEvery: 1, previewMethod: 'taesd',
    }, { onEvent: (e) => { events.push(e) } })
    assert.deepEqual(events.flatMap((e) => (e.type === 'step' && e.preview ? [e.preview.width] : [])), [64, 64])
    assert.equal(result.images[0].info.modelHash, sha.slice(0, 10))
    assert.deepEqual((await client.loadedModels()).map((m) => m.sha256), [sha])
  } finally {
    await client.close()
  }
})
