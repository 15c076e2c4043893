/**
 * Durability: kill -9 of the server process with 3 jobs accepted (one running, two queued, one of them img2img), then
 * a restart: all 3 complete, in order, and the first one runs again from the start. SIGTERM stops gracefully: the running job goes
 * back to the queue and a waiting A1111 client is answered 503.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeA1111Root } from '../fixtures/server-a1111-root.ts'
import { REPO_ROOT, ref } from '../golden.ts'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-restart-'))
  await makeA1111Root(join(dir, 'a1111'))
})
after(() => rm(dir, { recursive: true, force: true }))

async function startChild(stepMs: number): Promise<{ child: ChildProcess; url: string; output: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/e2e/server-child.ts'), join(dir, 'data'), join(dir, 'a1111'), String(stepMs)], { cwd: REPO_ROOT })
  const output: string[] = []
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      output.push(...b.toString().trim().split('\n'))
      const m = output.map((l) => /^listening (\S+)/.exec(l)).find(Boolean)
      if (m) resolve(m[1])
    })
    child.stderr!.on('data', (b: Buffer) => output.push(b.toString()))
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${output.join('\n')}`)))
  })
  return { child, url, output }
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('kill -9 with 3 jobs accepted, then a restart: all 3 complete', async () => {
  const first = await startChild(300) // job 1 runs 1.5 s: long enough to accept the other two meanwhile
  const ids: string[] = []
  ids.push((await (await post(`${first.url}/sdloom/v1/jobs`, { prompt: 'job 1', steps: 5, width: 16, height: 16, seed: 1 })).json() as { id: string }).id)
  // the second is an img2img job through A1111's blocking route: its row (the picture kept encoded) is committed
  // before the answer, which the kill cuts off
  const init = (await readFile(ref('sd1', 'img2img', 'init.png'))).toString('base64')
  post(`${first.url}/sdapi/v1/img2img`, { prompt: 'job 2', steps: 5, width: 16, height: 16, seed: 2, init_images: [init] }).catch(() => undefined)
  let listed: { id: string; kind: string }[] = []
  while (listed.length < 2) { await sleep(20); listed = (await (await fetch(`${first.url}/sdloom/v1/jobs?limit=5`)).json()) as { id: string; kind: string }[] }
  const img2img = listed.find((j) => j.kind === 'img2img')
  assert.ok(img2img, JSON.stringify(listed))
  ids.push(img2img.id)
  ids.push((await (await post(`${first.url}/sdloom/v1/jobs`, { prompt: 'job 3', steps: 5, width: 16, height: 16, seed: 3 })).json() as { id: string }).id)
  while (((await (await fetch(`${first.url}/sdloom/v1/jobs/${ids[0]}`)).json()) as { state: string }).state !== 'running') await sleep(20)
  const exited = new Promise((r) => first.child.on('exit', r))
  first.child.kill('SIGKILL')
  await exited

  const second = await startChild(5)
  assert.ok(second.output.some((l) => l.includes('1 job(s) left running by the last process went back to the queue')), second.output.join('\n'))
  const states = async () => Promise.all(ids.map(async (id) => (await (await fetch(`${second.url}/sdloom/v1/jobs/${id}`)).json()) as { state: string; attempts: number; images: { seed: number }[] }))
  let jobs = await states()
  for (let i = 0; i < 200 && jobs.some((j) => j.state !== 'done'); i++) { await sleep(25); jobs = await states() }
  assert.deepEqual(jobs.map((j) => [j.state, j.attempts, j.images.map((x) => x.seed)]), [['done', 2, [1]], ['done', 1, [2]], ['done', 1, [3]]])

  const waiting = post(`${second.url}/sdapi/v1/txt2img`, { prompt: 'long', steps: 100, width: 16, height: 16 })
  await sleep(300)
  const exit2 = new Promise((r) => second.child.on('exit', r))
  second.child.kill('SIGTERM')
  const res = await waiting
  assert.equal(res.status, 503)
  assert.equal(((await res.json()) as { error: string }).error, 'ShuttingDownError')
  assert.equal(await exit2, 0)
  const third = await startChild(1)
  const list = (await (await fetch(`${third.url}/sdloom/v1/jobs?limit=1`)).json()) as { state: string }[]
  assert.ok(['queued', 'running', 'done'].includes(list[0].state), list[0].state)
  third.child.kill('SIGKILL')
})
