/*
 * Issue #14 through the real CLI: what a new user runs into is refused before any model is loaded (the load bar's
 * "loading " line never appears), in one line, with nothing written.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
