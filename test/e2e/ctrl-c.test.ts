/*
 * The second Ctrl-C ends the process at once, even inside a step that blocks the event loop (a real child process and
 * real signals); the first is tested through the CLI in generate-default-model.test.ts (exit 130, no file).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT } from '../golden.ts'

test('first Ctrl-C aborts the run\'s signal; the second, during a blocking step, kills the process within a second', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'e2e', 'ctrl-c-child.ts')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  let secondAt = 0
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (stderr.endsWith('ready\n')) child.kill('SIGINT')
    if (stderr.endsWith('step\n')) setTimeout(() => { secondAt = performance.now(); child.kill('SIGINT') }, 200)
  })
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => child.on('close', (c, s) => res([c, s])))
  const took = performance.now() - secondAt
  assert.ok(code === 130 || signal === 'SIGINT', `exit ${code} ${signal}: ${stderr}`)
  assert.ok(took < 1000, `the second Ctrl-C took ${took.toFixed(0)} ms`)
  assert.deepEqual(stderr.split('\n').filter(Boolean),
    ['ready', 'first: interrupted (Ctrl-C): stopped after the current step; no image of this batch was written', 'step'])
})
