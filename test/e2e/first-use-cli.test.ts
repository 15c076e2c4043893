/*
 * Issue #14 through the real CLI: what a new user runs into is refused before any model is loaded (the load bar's
 * "loading " line never appears), in one line, with nothing written.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPng } from '../../src/image/png.ts'
import { DEFAULT_MAX_PIXELS } from '../../src/cli/size-limits.ts'
import { TOKENIZER_DIR, readRefJson, ref } from '../golden.ts'
import { refusedUrl, startFileServer } from '../fixtures/file-server.ts'
import { DEFAULT_MODEL } from '../../src/pipeline/default-model.ts'
import { TOKENIZER_REPO } from '../../src/prompt/tokenizer-files.ts'
import { DONE_WHEN, TINY_SD1, errorLines, runSdloom } from './generate-cli.ts'

let root: string
let env: NodeJS.ProcessEnv
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sdloom-first-use-'))
  env = { SDLOOM_CACHE: join(root, 'cache') }
})
after(async () => { await rm(root, { recursive: true, force: true }) })

test('unusable --out: refused before loading, one line naming the folder', async () => {
  const cases: [string, string][] = [
    ['/proc/new/', 'error: --out: cannot write to the folder /proc/new (it cannot be created there); choose another --out'],
    [join(root, 'one.jpg'), `error: --out ${join(root, 'one.jpg')}: sdloom writes PNG files only (A1111's infotext lives in PNG text chunks); use --out ${join(root, 'one')}.png, or a folder`],
  ]
  if (process.getuid?.() === 0) cases.push(['/sys/kernel', 'error: --out: cannot write to the folder /sys/kernel (permission denied); choose another --out'])
  const results = await Promise.all(cases.map(([out]) => runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--out', out], env)))
  results.forEach((r, i) => {
    assert.equal(r.code, 2, r.stderr)
    assert.deepEqual(errorLines(r.stderr), [cases[i][1]])
  })
})

test('a size that cannot fit is refused before loading; --max-pixels raises the policy, not the memory bound', async () => {
  const big = ['--width', '100000', '--height', '100000', '--model', TINY_SD1, '--out', join(root, 'big')]
  const [policy, memory] = await Promise.all([
    runSdloom([...DONE_WHEN, ...big], env), runSdloom([...DONE_WHEN, ...big, '--max-pixels', '100000000000'], env),
  ])
  assert.equal(policy.code, 2, policy.stderr)
  assert.deepEqual(errorLines(policy.stderr), [`error: 100000×100000 is 10000000000 pixels, over --max-pixels ${DEFAULT_MAX_PIXELS}; `
    + 'generate smaller and upscale (--hires-scale), or raise --max-pixels if this machine has the memory'])
  assert.equal(memory.code, 2, memory.stderr)
  assert.match(errorLines(memory.stderr).join('\n'), /^error: 100000×100000 cannot fit: the UNet's attention alone needs at least \d+ GB per step, this machine has/)
})

test('SDXL with --clip-skip 2 and --cfg 0: runs as A1111 does, one note each, "Clip skip: 2" in the infotext', async () => {
  const out = join(root, 'xl.png')
  const r = await runSdloom([...DONE_WHEN, '--model', ref('sdxl', 'tiny-sdxl-base.safetensors'), '--steps', '1', '--cfg', '0', '--clip-skip', '2', '--out', out], env)
  assert.equal(r.code, 0, r.stderr)
  const notes = errorLines(r.stderr).filter((l) => l.startsWith('note: '))
  assert.equal(notes.length, 2, r.stderr)
  assert.match(notes[0], /^note: --cfg 0 is below A1111's UI minimum of 1/)
  assert.match(notes[1], /^note: --clip-skip 2 has no effect on SDXL checkpoints/)
  assert.match((await readPng(out)).text.parameters, /, CFG scale: 0, .*, Clip skip: 2, /)
})

test('--lora is written into the saved prompt as <lora:NAME:W>; a checkpoint given as --lora is refused by what it is', async () => {
  const out = join(root, 'lora.png')
  const [ok, ckpt] = await Promise.all([
    runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--steps', '1', '--lora', `${ref('sd1', 'adapters', 'tinylora.safetensors')}:0.7`, '--out', out], env),
    runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--steps', '1', '--lora', TINY_SD1, '--out', join(root, 'ckpt')], env),
  ])
  assert.equal(ok.code, 0, ok.stderr)
  const text = (await readPng(out)).text.parameters
  assert.ok(text.startsWith(`${DONE_WHEN[1]} <lora:tinylora:0.7>\nNegative prompt: `), text)
  assert.match(text, /, Lora hashes: "tinylora: [0-9a-f]{12}", /)
  assert.equal(ckpt.code, 1, ckpt.stderr)
  assert.deepEqual(errorLines(ckpt.stderr).filter((l) => !l.startsWith('loading ')), [`error: tiny-sd1.safetensors: is a full checkpoint (SD1.x), not a LoRA: `
    + '--lora and <lora:…> take LoRA/LyCORIS files. Hint: pass it with --model, or make a LoRA of its difference to its base with `sdloom lora extract`.'])
})

/** The first run with nothing cached: `generate` without --model or --tokenizer. */
const FIRST_RUN = ['generate', 'a cat', '--steps', '1', '--width', '64', '--height', '64']
const TINY = readRefJson<Record<string, { sha256: string; bytes: number }>>('sd1', 'files.json')['tiny-sd1.safetensors']
const firstRunEnv = (name: string, endpoint: string): NodeJS.ProcessEnv => ({
  SDLOOM_CACHE: join(root, name), SDLOOM_HF_ENDPOINT: endpoint, SDLOOM_TOKENIZER: '',
  SDLOOM_DEFAULT_MODEL_SHA256: TINY.sha256, SDLOOM_DEFAULT_MODEL_SIZE: String(TINY.bytes),
})

test('first run: tokenizer and default model fetched in one step from a local server, each announced, then the image', async () => {
  const server = await startFileServer({
    [`/${TOKENIZER_REPO}/resolve/main/vocab.json`]: { body: new Uint8Array(await readFile(join(TOKENIZER_DIR, 'vocab.json'))) },
    [`/${TOKENIZER_REPO}/resolve/main/merges.txt`]: { body: new Uint8Array(await readFile(join(TOKENIZER_DIR, 'merges.txt'))) },
    [`/${DEFAULT_MODEL.repo}/resolve/main/${DEFAULT_MODEL.file}`]: { body: new Uint8Array(await readFile(TINY_SD1)) },
  })
  try {
    const r = await runSdloom([...FIRST_RUN, '--out', join(root, 'first.png')], firstRunEnv('cache-first', server.url))
    assert.equal(r.code, 0, r.stderr)
    const said = errorLines(r.stderr).filter((l) => l.startsWith('downloading '))
    assert.deepEqual(said.map((l) => l.split(' from ')[0]), [
      "downloading the CLIP tokenizer's vocab.json", "downloading the CLIP tokenizer's merges.txt", `downloading the default model ${DEFAULT_MODEL.file} (0.04 GB)`,
    ])
    assert.deepEqual(server.requests.map((q) => q.path.split('/').at(-1)), ['vocab.json', 'merges.txt', DEFAULT_MODEL.file])
  } finally {
    await server.close()
  }
})

test('first run offline: one line for the tokenizer and one for the model, in one run', async () => {
  const url = await refusedUrl()
  const port = new URL(url).port
  const r = await runSdloom([...FIRST_RUN, '--out', join(root, 'offline.png')], firstRunEnv('cache-offline', url))
  assert.equal(r.code, 1, r.stderr)
  assert.deepEqual(errorLines(r.stderr).filter((l) => l.startsWith('error: ')), [
    `error: cannot download the CLIP tokenizer's vocab.json (connection refused by 127.0.0.1:${port}); pass --tokenizer DIR (a folder with vocab.json and merges.txt) or set SDLOOM_TOKENIZER`,
    `error: cannot download the default model (connection refused by 127.0.0.1:${port}); pass --model FILE to use a local checkpoint`,
  ])
})
