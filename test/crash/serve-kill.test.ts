/**
 * kill -9 of `sdloom serve` at a random moment while clients submit jobs and the runner finishes them (job rows,
 * output rows and PNGs being written): the SQLite file (WAL mode) passes `PRAGMA integrity_check`, every job the
 * server answered 202 for is in it, and after a restart every one of them completes; every image a finished job
 * lists is a whole PNG. (The ordered requeue of 3 jobs and SIGTERM: test/e2e/server-restart.test.ts.)
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { makeA1111Root } from '../fixtures/server-a1111-root.ts'
import { REPO_ROOT } from '../golden.ts'
import { decodePng } from '../../src/image/png.ts'

const CLIENTS = 4
const JOBS_PER_CLIENT = 12
let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-servekill-'))
  await makeA1111Root(join(dir, 'a1111'))
})
after(() => rm(dir, { recursive: true, force: true }))

/** The server in its own process (test/e2e/server-child.ts, scripted engine of `stepMs` per step). */
async function startChild(stepMs: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/e2e/server-child.ts'), join(dir, 'data'), join(dir, 'a1111'), String(stepMs)], { cwd: REPO_ROOT })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => { output += String(b); const m = /^listening (\S+)/m.exec(output); if (m) resolve(m[1]) })
    child.stderr!.on('data', (b: Buffer) => { output += String(b) })
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${output}`)))
  })
  return { child, url }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('kill -9 mid-burst: the database is intact, every accepted job is kept and completes after a restart', async (t) => {
  const first = await startChild(3)
  const accepted: string[] = []
  let killed = false
  const client = async (c: number): Promise<void> => {
    for (let i = 0; i < JOBS_PER_CLIENT && !killed; i++) {
      try {
        const res = await fetch(`${first.url}/sdloom/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: `client ${c} job ${i}`, steps: 4, width: 16, height: 16, seed: c * 100 + i, save_images: true }) })
        if (res.status === 202) accepted.push(((await res.json()) as { id: string }).id)
      } catch { return } // the connection died with the server: not accepted
    }
  }
  const clients = Array.from({ length: CLIENTS }, (_, c) => client(c))
  while (accepted.length < 4) await sleep(5)
  await sleep(Math.floor(Math.random() * 400))
  const exited = new Promise((r) => first.child.on('exit', r))
  first.child.kill('SIGKILL')
  killed = true
  await exited
  await Promise.all(clients)

  const db = new Database(join(dir, 'data', 'sdloom.db'))
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
    const states = new Map((db.prepare('SELECT id, state FROM jobs').all() as { id: string; state: string }[]).map((r) => [r.id, r.state]))
    assert.deepEqual(accepted.filter((id) => !states.has(id)), [], 'accepted jobs missing after the kill')
    t.diagnostic(`${accepted.length} accepted before the kill: ${[...states.values()].filter((s) => s === 'done').length} done, `
      + `${[...states.values()].filter((s) => s === 'running').length} running, ${[...states.values()].filter((s) => s === 'queued').length} queued`)
  } finally {
    db.close()
  }

  const second = await startChild(1)
  try {
    const view = async (id: string) => (await (await fetch(`${second.url}/sdloom/v1/jobs/${id}`)).json()) as { state: string; images: { url: string | null }[] }
    let jobs = await Promise.all(accepted.map(view))
    for (let i = 0; i < 400 && jobs.some((j) => j.state !== 'done'); i++) { await sleep(25); jobs = await Promise.all(accepted.map(view)) }
    assert.deepEqual(jobs.filter((j) => j.state !== 'done').map((j) => j.state), [], 'accepted jobs that did not complete after the restart')
    for (const j of jobs) {
      assert.equal(j.images.length, 1, JSON.stringify(j))
      assert.ok(j.images[0].url, JSON.stringify(j))
      const png = new Uint8Array(await (await fetch(`${second.url}${j.images[0].url}`)).arrayBuffer())
      assert.equal(decodePng(png, 'job image').width, 16)
    }
  } finally {
    second.child.kill('SIGKILL')
  }
  const db2 = new Database(join(dir, 'data', 'sdloom.db'), { readonly: true })
  try { assert.equal(db2.pragma('integrity_check', { simple: true }), 'ok') } finally { db2.close() }
})
