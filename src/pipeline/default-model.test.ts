import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureHubModel, type HubFile } from './default-model.ts'
import { refusedUrl, startFileServer, testBytes, type FileServer } from '../../test/fixtures/file-server.ts'

const BODY = testBytes(50_000, 7)
const SPEC: HubFile = { repo: 'org/tiny-model', file: 'tiny.safetensors', size: BODY.length,
  sha256: createHash('sha256').update(BODY).digest('hex'), what: 'the default model' }
const ROUTE = '/org/tiny-model/resolve/main/tiny.safetensors'
let server: FileServer
let root: string

before(async () => {
  // Hugging Face answers resolve/ URLs with a redirect to its CDN; so does this server.
  server = await startFileServer({ [ROUTE]: { redirect: '/cdn/blob' }, '/cdn/blob': { body: BODY } })
  root = await mkdtemp(join(tmpdir(), 'sdloom-model-'))
})
after(async () => {
  await server.close()
  await rm(root, { recursive: true, force: true })
})

const envFor = (cache: string, endpoint = server.url): NodeJS.ProcessEnv => ({ SDLOOM_CACHE: cache, SDLOOM_HF_ENDPOINT: endpoint })
const quiet = { progressBar: false } as const

test('downloads once into <cache>/models, then trusts the marker without re-hashing', async () => {
  const cache = join(root, 'a')
  const lines: string[] = []
  const path = await ensureHubModel(SPEC, { ...quiet, env: envFor(cache), log: (l) => lines.push(l) })
  assert.equal(path, join(cache, 'models', 'tiny.safetensors'))
  assert.deepEqual(new Uint8Array(await readFile(path)), BODY)
  assert.deepEqual(lines, [`downloading the default model tiny.safetensors (0.00 GB) from ${server.url}${ROUTE} to ${path}`])
  const marker = JSON.parse(await readFile(`${path}.verified.json`, 'utf8'))
  assert.equal(marker.sha256, SPEC.sha256)
  const requests = server.requests.length
  // A whole-second mtime survives utimes exactly; the changed mtime makes the next run hash once (bytes intact).
  const T = 1_700_000_000
  await utimes(path, T, T)
  assert.equal(await ensureHubModel(SPEC, { ...quiet, env: envFor(cache) }), path)
  // Same size and mtime, different bytes: a later run must neither hash (it would fail) nor download.
  const changed = Uint8Array.from(BODY)
  changed[0] ^= 0xff
  await writeFile(path, changed)
  await utimes(path, T, T)
  assert.equal(await ensureHubModel(SPEC, { ...quiet, env: envFor(cache) }), path)
  assert.equal(server.requests.length, requests)
})

test('a file already in the cache without a marker is hashed once and accepted', async () => {
  const cache = join(root, 'b')
  await mkdir(join(cache, 'models'), { recursive: true })
  await writeFile(join(cache, 'models', 'tiny.safetensors'), BODY)
  const requests = server.requests.length
  const lines: string[] = []
  const path = await ensureHubModel(SPEC, { ...quiet, env: envFor(cache), log: (l) => lines.push(l) })
  assert.deepEqual(lines, [`checking the SHA-256 of ${path} (once)`])
  assert.equal(JSON.parse(await readFile(`${path}.verified.json`, 'utf8')).sha256, SPEC.sha256)
  assert.equal(server.requests.length, requests)
})

test('a wrong file in the cache is a clear error, never silently replaced', async () => {
  const cache = join(root, 'c')
  const file = join(cache, 'models', 'tiny.safetensors')
  await mkdir(join(cache, 'models'), { recursive: true })
  const other = testBytes(BODY.length, 8)
  await writeFile(file, other)
  const sha = createHash('sha256').update(other).digest('hex')
  await assert.rejects(ensureHubModel(SPEC, { ...quiet, env: envFor(cache) }), {
    name: 'TensorFileError',
    message: `tiny.safetensors: SHA-256 is ${sha}, expected ${SPEC.sha256} for tiny.safetensors; `
      + 'delete it to download it again, or pass --model FILE to use a local checkpoint',
  })
  await writeFile(file, 'short')
  await assert.rejects(ensureHubModel(SPEC, { ...quiet, env: envFor(cache) }), {
    message: `tiny.safetensors: expected ${BODY.length} bytes for tiny.safetensors, found 5; `
      + 'delete it to download it again, or pass --model FILE to use a local checkpoint',
  })
})

test('unreachable hub: one line naming the default model and --model', async () => {
  const url = await refusedUrl()
  await assert.rejects(ensureHubModel(SPEC, { ...quiet, env: envFor(join(root, 'd'), url) }), {
    name: 'NetworkError',
    message: `cannot download the default model (connection refused by ${new URL(url).host}); pass --model FILE to use a local checkpoint`,
  })
})
