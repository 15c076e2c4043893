import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from './sqlite.ts'
import { SqliteJobStore } from './sqlite-job-store.ts'
import { JobRunner } from './runner.ts'
import type { JobRecord } from './job-store.ts'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-jobs-')) })
after(() => rm(dir, { recursive: true, force: true }))

test('jobs survive a reopen: running goes back to queued in its place, done keeps its result and outputs', async () => {
  const file = join(dir, 'reopen.db')
  const db = openDatabase(file)
  const store = new SqliteJobStore(db)
  const a = await store.enqueue('txt2img', { prompt: 'a' })
  const b = await store.enqueue('txt2img', { prompt: 'b' })
  const c = await store.enqueue('txt2img', { prompt: 'c' })
  const first = await store.claimNext()
  assert.equal(first?.id, a.id)
  await store.addOutput({ jobId: a.id, index: 0, seed: 7, infotext: 'a\nSteps: 1', file: '/out/00000-7.png', createdAt: 1 })
  await store.finish(a.id, 'done', { result: { images: 1 } })
  assert.equal((await store.claimNext())?.id, b.id)
  assert.equal(await store.position(c.id), 1)
  db.close() // as if killed while b was running

  const store2 = new SqliteJobStore(openDatabase(file))
  assert.equal(await store2.requeueRunning(), 1)
  assert.deepEqual(await store2.counts(), { queued: 2, running: 0, done: 1, failed: 0, cancelled: 0 })
  const again = await store2.claimNext()
  assert.deepEqual({ id: again?.id, attempts: again?.attempts, payload: again?.payload }, { id: b.id, attempts: 2, payload: { prompt: 'b' } })
  const done = await store2.get(a.id)
  assert.deepEqual({ state: done?.state, result: done?.result }, { state: 'done', result: { images: 1 } })
  assert.deepEqual(await store2.outputs(a.id), [{ jobId: a.id, index: 0, seed: 7, infotext: 'a\nSteps: 1', file: '/out/00000-7.png', createdAt: 1 }])
  assert.equal(await store2.cancel(c.id), 'cancelled')
  assert.equal(await store2.cancel(b.id), 'running')
  assert.equal(await store2.cancel('nope'), 'missing')
})

test('the queue limit refuses a job with an error naming the limit', async () => {
  const store = new SqliteJobStore(openDatabase(join(dir, 'limit.db')))
  await store.enqueue('k', {}, { maxQueued: 1 })
  await assert.rejects(store.enqueue('k', {}, { maxQueued: 1 }), {
    name: 'QueueFullError', message: 'the job queue is full (1 jobs waiting; limit --max-queue 1). Hint: retry when a job has finished.',
  })
})

test('the runner takes jobs in order, records failures and cancellations, and requeues the running job on stop', async () => {
  const store = new SqliteJobStore(openDatabase(join(dir, 'runner.db')))
  const seen: string[] = []
  const settled: JobRecord[] = []
  let release: (() => void) | undefined
  const runner = new JobRunner(store, async (job, { signal }) => {
    const p = job.payload as { name: string; mode: string }
    seen.push(p.name)
    if (p.mode === 'fail') throw new Error('boom')
    if (p.mode === 'wait') await new Promise<void>((r) => { release = r; signal.addEventListener('abort', () => r()) })
    return { name: p.name }
  }, { onSettled: (j) => settled.push(j) })
  const ids = []
  for (const [name, mode] of [['one', 'ok'], ['two', 'fail'], ['three', 'wait']]) ids.push((await store.enqueue('k', { name, mode })).id)
  await runner.start()
  while (!release) await new Promise((r) => setTimeout(r, 5))
  assert.deepEqual(seen, ['one', 'two', 'three'])
  assert.deepEqual(settled.map((j) => [j.state, j.error?.message]), [['done', undefined], ['failed', 'boom']])
  assert.equal(runner.currentJobId, ids[2])
  await runner.stop()
  assert.equal((await store.get(ids[2]))?.state, 'queued')
  const runner2 = new JobRunner(store, async (_job, { signal }) => new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason as Error))
  }), { onSettled: (j) => settled.push(j) })
  await runner2.start()
  while (runner2.currentJobId !== ids[2]) await new Promise((r) => setTimeout(r, 5))
  assert.equal(await runner2.cancel(ids[2], new Error('interrupted')), 'aborting')
  while (settled.length < 4) await new Promise((r) => setTimeout(r, 5))
  assert.deepEqual(settled.slice(2).map((j) => [j.state, j.error?.message, j.attempts]), [['queued', undefined, 1], ['cancelled', 'interrupted', 2]])
  await runner2.stop()
})
