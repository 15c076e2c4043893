/*
 * The Engine's model identity is the checkpoint's content (src/engine/model-identity.ts): a copy and a symlink of a
 * loaded checkpoint load once, a file whose bytes change loads again, a new mtime over the same bytes is hashed again
 * but not reloaded, and a resolver that knows the SHA-256 spares the hashing. Loads and hashes are counted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { copyFile, mkdtemp, open, readFile, rm, stat, symlink, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { GenerationRequest, ModelResolver } from '../../src/engine/contract.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')
const REQ: GenerationRequest = { mode: 'txt2img', model: SD1, prompt: 'a cat', steps: 1, seed: 1, rng: 'cpu', width: 64, height: 64 }
const sha256Of = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex')

function countingEngine(resolver: ModelResolver = fileResolver()): { engine: Engine; loads: string[] } {
  const loads: string[] = []
  const engine = new Engine({
    resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false,
    loader: (spec, opts) => { loads.push(spec.file); return loadModel(spec.file, { ...opts, threads: 1 }) },
  })
  return { engine, loads }
}

test('a copy and a symlink of a loaded checkpoint load once; changed bytes load again; a new mtime alone does not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-identity-'))
  const { engine, loads } = countingEngine()
  try {
    const copy = join(dir, 'copy.safetensors')
    const link = join(dir, 'link.safetensors')
    await copyFile(SD1, copy)
    await symlink(copy, link)
    const hashEvents: string[] = []
    const first = await engine.generate(REQ, { onEvent: (e) => { if (e.type === 'phase' && e.phase === 'hash') hashEvents.push(`${e.label}: ${e.done}/${e.total}`) } })
    const { size: sd1Size } = await stat(SD1)
    assert.equal(hashEvents.at(-1), `${SD1}: ${sd1Size}/${sd1Size}`, 'hashing a file not seen before shows its bytes')
    const viaCopy = await engine.generate({ ...REQ, model: copy })
    const viaLink = await engine.generate({ ...REQ, model: link })
    assert.deepEqual(loads, [SD1], 'one load for three paths')
    assert.deepEqual(viaCopy.images[0].rgb, first.images[0].rgb)
    assert.deepEqual(viaLink.images[0].rgb, first.images[0].rgb)
    assert.deepEqual([first, viaCopy, viaLink].map((r) => r.images[0].info.model), ['tiny-sd1', 'copy', 'link'], 'the infotext names the path asked for')
    assert.equal(engine.cache.ids.hashed, 2, 'the original and the copy hashed once each; the link is the copy\'s real path')
    const sha = await sha256Of(SD1)
    assert.deepEqual((await engine.loadedModels()).map((m) => m.sha256), [sha])
    assert.equal(first.images[0].info.modelHash, sha.slice(0, 10), 'the infotext\'s AutoV2 hash is the identity\'s prefix')

    // the same bytes with a new mtime: hashed again (the fast identity changed), the same model
    const later = new Date(Date.now() + 60_000)
    await utimes(copy, later, later)
    await engine.generate({ ...REQ, model: copy })
    assert.equal(engine.cache.ids.hashed, 3)
    assert.deepEqual(loads, [SD1])

    // one byte of the last tensor's data changed: another model
    const fh = await open(copy, 'r+')
    const { size } = await fh.stat()
    const last = Buffer.alloc(1)
    await fh.read(last, 0, 1, size - 1)
    await fh.write(Buffer.from([last[0] ^ 1]), 0, 1, size - 1)
    await fh.close()
    await engine.generate({ ...REQ, model: link })
    assert.deepEqual(loads, [SD1, link])
    const shas = (await engine.loadedModels()).map((m) => m.sha256).sort()
    assert.deepEqual(shas, [sha, await sha256Of(copy)].sort())

    await engine.unload(SD1)
    assert.deepEqual((await engine.loadedModels()).map((m) => m.sha256), [await sha256Of(copy)], 'unload by path drops that content only')
    await engine.unload(await sha256Of(copy))
    assert.equal((await engine.loadedModels()).length, 0, 'unload by SHA-256')
  } finally {
    await engine.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test('a resolver that knows the SHA-256 spares the hashing', async () => {
  const sha = await sha256Of(SD1)
  const asked: string[] = []
  const { engine, loads } = countingEngine({ ...fileResolver(), knownSha256: async (file) => { asked.push(file); return sha } })
  try {
    const phases: string[] = []
    const result = await engine.generate(REQ, { onEvent: (e) => { if (e.type === 'phase') phases.push(e.phase) } })
    await engine.generate({ ...REQ, seed: 2 })
    assert.equal(engine.cache.ids.hashed, 0)
    assert.ok(!phases.includes('hash'), 'no hash phase when the SHA-256 is known')
    assert.deepEqual(asked, [SD1], 'asked once per file version')
    assert.deepEqual(loads, [SD1])
    assert.equal(result.images[0].info.modelHash, sha.slice(0, 10))
  } finally {
    await engine.close()
  }
})
