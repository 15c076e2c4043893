import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveTokenizerDir } from './tokenizer-files.ts'
import { TOKENIZER_DIR } from '../../test/golden.ts'
import { refusedUrl, startFileServer, type FileServer } from '../../test/fixtures/file-server.ts'

const VOCAB = readFileSync(join(TOKENIZER_DIR, 'vocab.json'))
const MERGES = readFileSync(join(TOKENIZER_DIR, 'merges.txt'))
const BASE = '/openai/clip-vit-large-patch14/resolve/main'
const EXPECT = 'expected a folder with vocab.json and merges.txt (the CLIP tokenizer of openai/clip-vit-large-patch14)'
let server: FileServer
let root: string

before(async () => {
  server = await startFileServer({ [`${BASE}/vocab.json`]: { body: VOCAB }, [`${BASE}/merges.txt`]: { body: MERGES } })
  root = await mkdtemp(join(tmpdir(), 'sdloom-tok-'))
})
after(async () => {
  await server.close()
  await rm(root, { recursive: true, force: true })
})

test('--tokenizer beats SDLOOM_TOKENIZER, which beats the cache', async () => {
  assert.equal(await resolveTokenizerDir({ flag: TOKENIZER_DIR, env: { SDLOOM_TOKENIZER: '/nonexistent' } }), TOKENIZER_DIR)
  assert.equal(await resolveTokenizerDir({ env: { SDLOOM_TOKENIZER: TOKENIZER_DIR, SDLOOM_HF_ENDPOINT: 'http://127.0.0.1:9' } }), TOKENIZER_DIR)
})

test('the cache is filled from the hub once, then used without requests', async () => {
  const env = { SDLOOM_CACHE: join(root, 'c1'), SDLOOM_HF_ENDPOINT: server.url }
  const lines: string[] = []
  const dir = await resolveTokenizerDir({ env, log: (l) => lines.push(l) })
  assert.equal(dir, join(root, 'c1', 'tokenizers', 'clip-vit-large-patch14'))
  assert.deepEqual(await readFile(join(dir, 'vocab.json')), VOCAB)
  assert.deepEqual(await readFile(join(dir, 'merges.txt')), MERGES)
  assert.deepEqual(lines, ['vocab.json', 'merges.txt'].map((n) =>
    `downloading the CLIP tokenizer's ${n} from ${server.url}${BASE}/${n} to ${join(dir, n)}`))
  const count = server.requests.length
  assert.equal(await resolveTokenizerDir({ env }), dir)
  assert.equal(server.requests.length, count)
})

test('folders without both files: clear errors naming the folder', async () => {
  const half = join(root, 'half')
  await mkdir(half, { recursive: true })
  await writeFile(join(half, 'vocab.json'), '{}')
  await assert.rejects(resolveTokenizerDir({ flag: half }), { name: 'InputError', message: `--tokenizer ${half}: missing merges.txt; ${EXPECT}` })
  await assert.rejects(resolveTokenizerDir({ env: { SDLOOM_TOKENIZER: join(root, 'none') } }), {
    message: `SDLOOM_TOKENIZER=${join(root, 'none')}: no such folder; ${EXPECT}`,
  })
  await assert.rejects(resolveTokenizerDir({ flag: join(half, 'vocab.json') }), {
    message: `--tokenizer ${join(half, 'vocab.json')}: not a folder; ${EXPECT}`,
  })
  const empty = join(root, 'empty')
  await mkdir(empty)
  await assert.rejects(resolveTokenizerDir({ flag: empty }), { message: `--tokenizer ${empty}: missing vocab.json and merges.txt; ${EXPECT}` })
})

test('offline with an empty cache: one line suggesting --tokenizer', async () => {
  const url = await refusedUrl()
  await assert.rejects(resolveTokenizerDir({ env: { SDLOOM_CACHE: join(root, 'c2'), SDLOOM_HF_ENDPOINT: url } }), {
    name: 'NetworkError',
    message: `cannot download the CLIP tokenizer's vocab.json (connection refused by ${new URL(url).host}); `
      + 'pass --tokenizer DIR (a folder with vocab.json and merges.txt) or set SDLOOM_TOKENIZER',
  })
})

test('an error page served instead of the file is rejected and removed', async () => {
  const s = await startFileServer({ [`${BASE}/vocab.json`]: { body: new TextEncoder().encode('<html>Sign in to this network</html>') } })
  try {
    const cache = join(root, 'c3')
    await assert.rejects(resolveTokenizerDir({ env: { SDLOOM_CACHE: cache, SDLOOM_HF_ENDPOINT: s.url } }), {
      name: 'NetworkError',
      message: 'cannot download the CLIP tokenizer\'s vocab.json (the server sent "<html>Sign in to this network</html>"…, '
        + 'not the openai/clip-vit-large-patch14 file; removed it); '
        + 'pass --tokenizer DIR (a folder with vocab.json and merges.txt) or set SDLOOM_TOKENIZER',
    })
    await assert.rejects(readFile(join(cache, 'tokenizers', 'clip-vit-large-patch14', 'vocab.json')), { code: 'ENOENT' })
  } finally {
    await s.close()
  }
})
