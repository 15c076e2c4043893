import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../jobs/sqlite.ts'
import { Library } from './library.ts'
import { checkpointTitle, findByName, loraAlias, networkName } from './names.ts'
import { hostilePickleCkpt, makeA1111Root } from '../../test/fixtures/server-a1111-root.ts'
import { storedZip } from '../../test/fixtures/torch-pickle-writer.ts'
import { ref } from '../../test/golden.ts'

let dir: string
let root: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-library-'))
  root = join(dir, 'a1111')
  await makeA1111Root(root, {
    'models/Lora/tinylora.json': JSON.stringify({ 'activation text': 'tiny style', 'preferred weight': 0.8, 'sd version': 'SD1' }),
    'models/Lora/tinylora.civitai.info': JSON.stringify({ name: 'v1', baseModel: 'SD 1.5', trainedWords: ['tinytrigger'], model: { name: 'Tiny' } }),
    'models/Lora/tinylora.preview.png': 'not really a png',
    'models/Lora/broken.safetensors': 'garbage that is no model',
    'models/Lora/broken.json': '{ not json',
    'models/Stable-diffusion/evil.ckpt': hostilePickleCkpt(join(dir, 'pwned'), storedZip),
    'models/Stable-diffusion/notes.txt': 'skipped: not a model extension',
  })
})
after(() => rm(dir, { recursive: true, force: true }))

test('a scan lists every model file by kind, with what inspect says, sidecars, and errors for files that fail', async () => {
  const db = openDatabase(join(dir, 'scan.db'))
  const lib = await Library.open(db, [root])
  assert.equal(lib.layouts[0].flavor, 'a1111')
  const report = await lib.scan()
  assert.deepEqual({ files: report.files, inspected: report.inspected, errors: report.errors }, { files: 8, inspected: 8, errors: 2 })
  assert.deepEqual(lib.list('checkpoint').map((e) => e.rel), ['evil.ckpt', 'tiny-sd1.safetensors'])
  assert.deepEqual(lib.list('lora').map((e) => e.rel), ['broken.safetensors', 'sub/tinyloha.safetensors', 'tinylora.safetensors'])
  assert.deepEqual(lib.list('embedding').map((e) => e.rel), ['tinyemb.pt', 'tinyneg.safetensors'])
  const ckpt = lib.list('checkpoint')[1]
  assert.equal(ckpt.inspect?.detected, 'checkpoint')
  assert.equal(ckpt.inspect?.arch, 'sd1')
  const lora = lib.list('lora')[2]
  assert.equal(lora.inspect?.detected, 'lora')
  assert.deepEqual(lora.inspect?.algorithms, ['lora', 'locon'])
  assert.deepEqual(lora.sidecars, {
    preview: 'tinylora.preview.png', userMetadata: { 'activation text': 'tiny style', 'preferred weight': 0.8, 'sd version': 'SD1' },
    civitai: { modelName: 'Tiny', versionName: 'v1', baseModel: 'SD 1.5', trainedWords: ['tinytrigger'] }, errors: [],
  })
  assert.deepEqual(lib.list('lora')[1].inspect?.algorithms, ['loha'])
  assert.equal(lib.list('embedding')[0].inspect?.detected, 'embedding')
  const broken = lib.list('lora')[0]
  assert.match(broken.error ?? '', /^broken\.safetensors: not a model file/)
  assert.deepEqual(broken.sidecars.errors.map((e) => e.split(':')[0]), ['broken.json'])
  const evil = lib.list('checkpoint')[0]
  assert.match(evil.error ?? '', /^evil\.ckpt: refused to load: the pickle references "posix\.system"/)
  assert.equal(existsSync(join(dir, 'pwned')), false)
  db.close()
})

test('a rescan inspects only changed files, re-reads changed sidecars, drops deleted files, and survives a reopen', async () => {
  const file = join(dir, 'rescan.db')
  const db = openDatabase(file)
  const lib = await Library.open(db, [root])
  await lib.scan()
  const again = await lib.scan()
  assert.deepEqual({ inspected: again.inspected, sidecars: again.sidecarsRead, removed: again.removed }, { inspected: 0, sidecars: 0, removed: 0 })
  await writeFile(join(root, 'models/Lora/broken.safetensors'), 'still garbage, but longer')
  const later = new Date(Date.now() + 5000)
  await writeFile(join(root, 'models/Lora/tinylora.json'), JSON.stringify({ 'activation text': 'new words' }))
  await utimes(join(root, 'models/Lora/tinylora.json'), later, later)
  await rm(join(root, 'embeddings/tinyneg.safetensors'))
  const third = await lib.scan()
  assert.deepEqual({ inspected: third.inspected, sidecars: third.sidecarsRead, removed: third.removed }, { inspected: 1, sidecars: 1, removed: 1 })
  db.close()
  const reopened = await Library.open(openDatabase(file), [root])
  const fourth = await reopened.scan()
  assert.equal(fourth.inspected, 0)
  assert.equal(reopened.list('lora').find((e) => e.rel === 'tinylora.safetensors')?.sidecars.userMetadata?.['activation text'], 'new words')
})

test('hashes are computed on demand, cached, and make the A1111 title; names resolve only to library files', async () => {
  const db = openDatabase(join(dir, 'names.db'))
  const lib = await Library.open(db, [root])
  await lib.scan()
  const ckpt = lib.list('checkpoint').find((e) => e.rel === 'tiny-sd1.safetensors')!
  assert.equal(checkpointTitle(ckpt), 'tiny-sd1.safetensors')
  const h = await lib.hashes(ckpt)
  const sha = createHash('sha256').update(readFileSync(ref('sd1', 'tiny-sd1.safetensors'))).digest('hex')
  assert.equal(h.sha256, sha)
  const cached = lib.entry(ckpt.file)!
  assert.equal(checkpointTitle(cached), `tiny-sd1.safetensors [${sha.slice(0, 10)}]`)
  for (const name of [`tiny-sd1.safetensors [${sha.slice(0, 10)}]`, 'tiny-sd1.safetensors', 'tiny-sd1', sha.slice(0, 10), sha]) {
    assert.equal(findByName(lib.list(), 'checkpoint', name).file, ckpt.file, name)
  }
  const loha = findByName(lib.list(), 'lora', 'tinyloha')
  assert.equal(networkName(loha), 'tinyloha')
  assert.equal(loraAlias(loha), 'tinyloha')
  assert.throws(() => findByName(lib.list(), 'checkpoint', '../../etc/passwd'), {
    name: 'InputError', message: 'checkpoint "../../etc/passwd": a name from the model library is expected, not a path. Hint: list names with the matching /sdapi/v1 endpoint',
  })
  assert.throws(() => findByName(lib.list(), 'checkpoint', '/abs/model.safetensors'), { name: 'InputError' })
  assert.throws(() => findByName(lib.list(), 'lora', 'nothere'), {
    name: 'LibraryNameError',
    message: 'no lora named "nothere" in the model library; known: "broken", "tinyloha", "tinylora". Hint: use a name from the list endpoint (for checkpoints, /sdapi/v1/sd-models); refresh it after adding files',
  })
  db.close()
})

test('a folder that is neither an A1111 nor a ComfyUI root is refused with both layouts named', async () => {
  const db = openDatabase(join(dir, 'bad.db'))
  await assert.rejects(Library.open(db, [dir]), { name: 'InputError', message: /neither an A1111 root .* nor a ComfyUI root/ })
  db.close()
})
