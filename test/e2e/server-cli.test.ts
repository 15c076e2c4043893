/** `sdloom serve` as a user runs it: --help, the --listen guard, start → serve → SIGINT stops cleanly (exit 0). */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeA1111Root } from '../fixtures/server-a1111-root.ts'
import { TOKENIZER_DIR } from '../golden.ts'
import { errorLines, runSdloom } from './generate-cli.ts'

const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

test('serve --help, and --listen without --api-auth refused before anything starts', async () => {
  const help = await runSdloom(['serve', '--help'], {})
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: sdloom serve --models DIR \[options\]/)
  const listen = await runSdloom(['serve', '--models', '.', '--listen', '--tokenizer', TOKENIZER_DIR], { SDLOOM_API_AUTH: '' })
  assert.equal(listen.code, 2)
  assert.deepEqual(errorLines(listen.stderr), ['error: --listen serves every network interface and needs credentials: add --api-auth USER:PASS'])
})

test('serve starts on the models folder, answers A1111 routes, and stops on SIGINT with exit 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-serve-cli-'))
  dirs.push(dir)
  await makeA1111Root(join(dir, 'a1111'))
  let served: Promise<unknown> | undefined
  const result = await runSdloom(['serve', '--models', join(dir, 'a1111'), '--data', join(dir, 'data'), '--port', '0', '--tokenizer', TOKENIZER_DIR], {}, (stderr, kill) => {
    const url = /serves A1111's API at (\S+)\/sdapi\/v1/.exec(stderr)?.[1]
    if (url && !served) served = fetch(`${url}/sdapi/v1/sd-models`).then((r) => r.json()).finally(() => kill('SIGINT'))
  })
  assert.equal(result.code, 0, result.stderr)
  assert.deepEqual(((await served) as { title: string }[]).map((m) => m.title), ['tiny-sd1.safetensors'])
  assert.match(result.stderr, /library: 6 files \(6 inspected, 0 with errors\)/)
  assert.match(result.stderr, /SIGINT: stopping/)
})
