/** `sdloom worker` and `serve --queue` as a user runs them: --help, and mistakes refused before anything starts. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TOKENIZER_DIR } from '../golden.ts'
import { errorLines, runSdloom } from './generate-cli.ts'

test('worker --help; worker without --queue; serve with a --queue that is not redis: (password not echoed)', async () => {
  const help = await runSdloom(['worker', '--help'], {})
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: sdloom worker --queue URL --models DIR \[options\]/)
  const noQueue = await runSdloom(['worker', '--models', '.'], { SDLOOM_QUEUE: '' })
  assert.equal(noQueue.code, 2)
  assert.deepEqual(errorLines(noQueue.stderr), ['error: worker needs --queue redis://HOST:PORT (the one given to `sdloom serve --queue`), or SDLOOM_QUEUE'])
  const bad = await runSdloom(['serve', '--models', '.', '--queue', 'http://:hunter2@h:1', '--tokenizer', TOKENIZER_DIR], {})
  assert.equal(bad.code, 2)
  assert.deepEqual(errorLines(bad.stderr), ['error: --queue: scheme "http:" is not redis: or rediss:. Expected redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://… for TLS'])
})
