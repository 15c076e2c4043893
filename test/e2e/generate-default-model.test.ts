/*
 * `sdloom generate` without --model downloads the default checkpoint once into SDLOOM_CACHE (served here by a local
 * HTTP server as SDLOOM_HF_ENDPOINT; SDLOOM_DEFAULT_MODEL_SHA256/SIZE pin it to the tiny reference checkpoint), says
 * so in one line when the network is unreachable, and Ctrl-C stops a run cleanly with no file written.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPng } from '../../src/image/png.ts'
import { DEFAULT_MODEL } from '../../src/pipeline/default-model.ts'
import { refusedUrl, startFileServer, type FileServer } from '../fixtures/file-server.ts'
import { readRefJson, ref } from '../golden.ts'
import { DONE_WHEN, TINY_SD1, errorLines, runSdloom } from './generate-cli.ts'
import { maxByteDiff } from './pipeline-goldens.ts'

const ROUTE = `/${DEFAULT_MODEL.repo}/resolve/main/${DEFAULT_MODEL.file}`
const TINY = readRefJson<Record<string, { sha256: string; bytes: number }>>('sd1', 'files.json')['tiny-sd1.safetensors']
let server: FileServer
let root: string
before(async () => {
  server = await startFileServer({ [ROUTE]: { body: new Uint8Array(await readFile(TINY_SD1)) } })
  root = await mkdtemp(join(tmpdir(), 'sdloom-default-'))
})
after(async () => {
  await server.close()
  await rm(root, { recursive: true, force: true })
})

const pinned = (cache: string, endpoint: string): NodeJS.ProcessEnv => ({
  SDLOOM_CACHE: cache, SDLOOM_HF_ENDPOINT: endpoint, SDLOOM_DEFAULT_MODEL_SHA256: TINY.sha256, SDLOOM_DEFAULT_MODEL_SIZE: String(TINY.bytes),
})

test('without --model: downloads the default checkpoint into the cache, then generates the reference image', async () => {
  const cache = join(root, 'cache')
  const out = join(root, 'out.png')
  const r = await runSdloom([...DONE_WHEN, '--out', out], pinned(cache, server.url))
  assert.equal(r.code, 0, r.stderr)
  const path = join(cache, 'models', DEFAULT_MODEL.file)
  assert.ok(errorLines(r.stderr).includes(`downloading the default model ${DEFAULT_MODEL.file} (0.04 GB) from ${server.url}${ROUTE} to ${path}`), r.stderr)
  assert.deepEqual(new Uint8Array(await readFile(path)), new Uint8Array(await readFile(TINY_SD1)))
  const png = await readPng(out)
  assert.ok(maxByteDiff(png.data, (await readPng(ref('sd1', 'goldens', 'sample.euler.64x64.png'))).data) <= 1)
  assert.match(png.text.parameters, /, Model hash: 37f4f40ddf, Model: v1-5-pruned-emaonly, /)
})

test('without --model and no network: one line that says so and suggests --model', async () => {
  const url = await refusedUrl()
  const r = await runSdloom([...DONE_WHEN, '--out', join(root, 'none.png')], pinned(join(root, 'cache-offline'), url))
  assert.notEqual(r.code, 0)
  const lines = errorLines(r.stderr)
  assert.equal(lines.length, 2, r.stderr)
  assert.match(lines[0], /^downloading the default model /)
  const port = new URL(url).port
  assert.equal(lines[1], `error: cannot download the default model (connection refused by 127.0.0.1:${port}); pass --model FILE to use a local checkpoint`)
})

test('Ctrl-C (SIGINT) stops after the current step: exit 130, one line, no image file', async () => {
  const out = join(root, 'interrupted')
  let sent = false
  const r = await runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--out', out, '--steps', '1000'], { SDLOOM_CACHE: join(root, 'cache') },
    (stderr, kill) => {
      // the model is loaded (the non-TTY load bar prints its line at the end): interrupt during sampling
      if (!sent && stderr.includes('loading ')) { sent = true; setTimeout(() => kill('SIGINT'), 300) }
    })
  assert.equal(r.code, 130, r.stderr)
  assert.deepEqual(errorLines(r.stderr).filter((l) => !l.startsWith('loading ')), ['error: interrupted (Ctrl-C): stopped after the current step; no image of this batch was written'])
  assert.deepEqual(await readdir(out), [])
})
