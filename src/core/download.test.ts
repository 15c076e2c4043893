import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { download, hfEndpoint, hfFileUrl } from './download.ts'
import { cacheDir } from './cache-dir.ts'
import { refusedUrl, startFileServer, testBytes, type FileServer } from '../../test/fixtures/file-server.ts'

const BODY = testBytes(300_000)
const SHA = createHash('sha256').update(BODY).digest('hex')
const HINT = 'pass --model FILE to use a local checkpoint'
let server: FileServer
let dir: string

before(async () => {
  server = await startFileServer({})
  dir = await mkdtemp(join(tmpdir(), 'sdloom-dl-'))
})
after(async () => {
  await server.close()
  await rm(dir, { recursive: true, force: true })
})

/** A fresh route path and destination per test. */
let n = 0
function fresh(route: Parameters<typeof startFileServer>[0][string]): { path: string; url: string; dest: string } {
  const path = `/f${++n}.bin`
  server.routes[path] = route
  return { path, url: `${server.url}${path}`, dest: join(dir, `sub${n}`, `f${n}.bin`) }
}
const logOf = (path: string): (string | undefined)[] => server.requests.filter((r) => r.path === path).map((r) => r.range)

test('downloads, verifies the SHA-256 and renames into place (no .part left)', async () => {
  const f = fresh({ body: BODY })
  const seen: [number, number | undefined][] = []
  const r = await download({ url: f.url, dest: f.dest, sha256: SHA, expectedSize: BODY.length, onProgress: (a, b) => seen.push([a, b]) })
  assert.deepEqual(r, { path: f.dest, bytes: BODY.length, sha256: SHA })
  assert.deepEqual(new Uint8Array(await readFile(f.dest)), BODY)
  assert.equal(existsSync(`${f.dest}.part`), false)
  assert.deepEqual(seen.at(-1), [BODY.length, BODY.length])
})

test('follows redirects (relative and absolute Location)', async () => {
  const target = fresh({ body: BODY })
  const hop = fresh({ redirect: target.path, status: 307 })
  const first = fresh({ redirect: hop.url, status: 302 })
  await download({ url: first.url, dest: first.dest, sha256: SHA })
  assert.deepEqual(new Uint8Array(await readFile(first.dest)), BODY)
})

test('a connection cut mid-file is resumed with a Range request (206)', async () => {
  const f = fresh({ body: BODY, cutAt: 100_000 })
  await download({ url: f.url, dest: f.dest, sha256: SHA })
  assert.deepEqual(logOf(f.path), [undefined, 'bytes=100000-'])
  assert.deepEqual(new Uint8Array(await readFile(f.dest)), BODY)
})

test('without retries the part is kept; the next run resumes it and hashes the whole file', async () => {
  const f = fresh({ body: BODY, cutAt: 123_457 })
  const err = await download({ url: f.url, dest: f.dest, sha256: SHA, retries: 0, what: 'the test file', hint: HINT }).then(
    () => assert.fail('expected a NetworkError'), (e: Error) => e)
  assert.equal(err.name, 'NetworkError')
  assert.equal(err.message, `cannot download the test file (connection dropped after 123457 bytes (aborted)); ${HINT}`)
  assert.equal((await readFile(`${f.dest}.part`)).length, 123_457)
  assert.equal(existsSync(f.dest), false)
  const r = await download({ url: f.url, dest: f.dest, sha256: SHA, retries: 0 })
  assert.equal(r.sha256, SHA)
  assert.deepEqual(logOf(f.path), [undefined, 'bytes=123457-'])
})

test('a server that ignores Range (200) restarts the file from byte 0', async () => {
  const f = fresh({ body: BODY, ignoreRange: true })
  await mkdir(dirname(f.dest), { recursive: true })
  await writeFile(`${f.dest}.part`, 'stale bytes from another file')
  await download({ url: f.url, dest: f.dest, sha256: SHA })
  assert.deepEqual(logOf(f.path), ['bytes=29-'])
  assert.deepEqual(new Uint8Array(await readFile(f.dest)), BODY)
})

test('a part that is already complete is verified without downloading again (416)', async () => {
  const f = fresh({ body: BODY })
  await download({ url: f.url, dest: f.dest, sha256: SHA })
  await writeFile(`${f.dest}.part`, BODY)
  await rm(f.dest)
  await download({ url: f.url, dest: f.dest, sha256: SHA, expectedSize: BODY.length })
  assert.deepEqual(logOf(f.path), [undefined, `bytes=${BODY.length}-`])
  assert.deepEqual(new Uint8Array(await readFile(f.dest)), BODY)
})

test('a wrong SHA-256 is an error and removes the partial file', async () => {
  const f = fresh({ body: BODY })
  const wrong = '0'.repeat(64)
  await assert.rejects(download({ url: f.url, dest: f.dest, sha256: wrong, hint: HINT }), {
    name: 'NetworkError',
    message: `cannot download f${n}.bin (SHA-256 mismatch: expected ${wrong}, got ${SHA}; the partial file was removed); ${HINT}`,
  })
  assert.equal(existsSync(`${f.dest}.part`), false)
  assert.equal(existsSync(f.dest), false)
})

test('a wrong size is an error, before the body is fetched when the server announces it', async () => {
  const f = fresh({ body: BODY.subarray(0, 1000) })
  await assert.rejects(download({ url: f.url, dest: f.dest, expectedSize: 999 }), {
    message: `cannot download f${n}.bin (the server offers 1000 bytes, expected 999)`,
  })
  assert.equal(existsSync(`${f.dest}.part`), false)
})

test('offline / unreachable: one-line NetworkError with the caller\'s hint', async () => {
  const url = await refusedUrl()
  const host = new URL(url).host
  await assert.rejects(download({ url: `${url}/x.bin`, dest: join(dir, 'x.bin'), what: 'the default model', hint: HINT }), {
    name: 'NetworkError',
    message: `cannot download the default model (connection refused by ${host}); ${HINT}`,
  })
  const f = fresh({ status: 404 })
  await assert.rejects(download({ url: f.url, dest: f.dest }), {
    message: `cannot download f${n}.bin (HTTP 404 Not Found from ${new URL(server.url).host}${f.path})`,
  })
  const h = fresh({ hang: true })
  await assert.rejects(download({ url: h.url, dest: h.dest, idleTimeoutMs: 150 }), {
    message: `cannot download f${n}.bin (no answer from ${new URL(server.url).host} (timed out))`,
  })
})

test('an aborted signal stops the download with an AbortError', async () => {
  const f = fresh({ body: BODY })
  await assert.rejects(download({ url: f.url, dest: f.dest, signal: AbortSignal.abort() }), { name: 'AbortError' })
  const h = fresh({ hang: true })
  const ac = new AbortController()
  setTimeout(() => ac.abort(), 50)
  await assert.rejects(download({ url: h.url, dest: h.dest, signal: ac.signal }), { name: 'AbortError' })
})

test('Hugging Face URLs and SDLOOM_HF_ENDPOINT', () => {
  assert.equal(hfEndpoint({}), 'https://huggingface.co')
  assert.equal(hfFileUrl('stable-diffusion-v1-5/stable-diffusion-v1-5', 'v1-5-pruned-emaonly.safetensors', {}),
    'https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/main/v1-5-pruned-emaonly.safetensors')
  assert.equal(hfFileUrl('openai/clip-vit-large-patch14', 'vocab.json', { SDLOOM_HF_ENDPOINT: 'http://127.0.0.1:9/mirror/' }),
    'http://127.0.0.1:9/mirror/openai/clip-vit-large-patch14/resolve/main/vocab.json')
})

test('cache dir: SDLOOM_CACHE > XDG_CACHE_HOME/sdloom > ~/.cache/sdloom', () => {
  assert.equal(cacheDir({ SDLOOM_CACHE: '/a/b', XDG_CACHE_HOME: '/x' }), '/a/b')
  assert.equal(cacheDir({ XDG_CACHE_HOME: '/x' }), '/x/sdloom')
  assert.equal(cacheDir({ SDLOOM_CACHE: '', XDG_CACHE_HOME: '' }), join(homedir(), '.cache', 'sdloom'))
})
