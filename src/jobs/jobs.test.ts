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

test('a queued job moves to a place or ahead of another; the runner takes the new order; arrivals still go last', async () => {
  const store = new SqliteJobStore(openDatabase(join(dir, 'move.db')))
  const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((name) => store.enqueue('k', { name })))
  const order = async (): Promise<string[]> => {
    const queued = await store.list({ state: 'queued' })
    const places = await Promise.all(queued.map(async (j) => [await store.position(j.id), (j.payload as { name: string }).name] as const))
    return places.sort((x, y) => x[0]! - y[0]!).map(([, name]) => name)
  }
  assert.equal(await store.move(d!.id, { position: 1 }), 1)
  assert.deepEqual(await order(), ['d', 'a', 'b', 'c'])
  assert.equal(await store.move(a!.id, { before: c!.id }), 3)
  assert.deepEqual(await order(), ['d', 'b', 'a', 'c'])
  assert.equal(await store.move(d!.id, { position: 99 }), 4) // clamped to the end
  assert.deepEqual(await order(), ['b', 'a', 'c', 'd'])
  assert.equal(await store.move(b!.id, { before: b!.id }), 1) // ahead of itself: stays
  const e = await store.enqueue('k', { name: 'e' })
  assert.deepEqual(await order(), ['b', 'a', 'c', 'd', 'e'])
  const claimed = await store.claimNext()
  assert.equal(claimed?.id, b!.id)
  await assert.rejects(store.move(b!.id, { position: 1 }), { name: 'JobNotQueuedError', message: new RegExp(`^job "${b!.id}" is running, not queued`) })
  await assert.rejects(store.move(a!.id, { before: b!.id }), { name: 'JobNotQueuedError' })
  await assert.rejects(store.move('nope', { position: 1 }), { name: 'JobNotFoundError', message: 'no job with id "nope"' })
  await store.requeueRunning() // b comes back at the head, where it was taken from
  assert.deepEqual(await order(), ['b', 'a', 'c', 'd', 'e'])
  const taken: string[] = []
  for (let j = await store.claimNext(); j; j = await store.claimNext()) taken.push((j.payload as { name: string }).name)
  assert.deepEqual(taken, ['b', 'a', 'c', 'd', 'e'])
  assert.equal(e.id.length, 36)
})

test('a database from before queue_order keeps its queue (the column is added in arrival order)', async () => {
  const file = join(dir, 'old.db')
  const db = openDatabase(file)
  db.exec(`CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, state TEXT NOT NULL,
    payload TEXT NOT NULL, result TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER)`)
  for (const id of ['x', 'y']) db.prepare(`INSERT INTO jobs (id, kind, state, payload, created_at) VALUES (?, 'k', 'queued', '{}', 1)`).run(id)
  const store = new SqliteJobStore(db)
  assert.deepEqual([await store.position('x'), await store.position('y')], [1, 2])
  assert.equal(await store.move('y', { position: 1 }), 1)
  assert.equal((await store.claimNext())?.id, 'y')
})

test('the gallery pages past any limit by cursor, and filters text and time over every image in SQL', async () => {
  const store = new SqliteJobStore(openDatabase(join(dir, 'gallery.db')))
  const job = await store.enqueue('k', {})
  // 1200 images, two per millisecond (so the cursor must break ties), every 100th a "fox".
  for (let i = 0; i < 1200; i++) {
    await store.addOutput({ jobId: job.id, index: i, seed: i, infotext: `${i % 100 === 0 ? 'a red fox' : 'a cat'}, 100%_done\nSeed: ${i}`, createdAt: 1000 + Math.floor(i / 2), ...(i % 7 === 0 ? {} : { file: `/o/${i}.png` }) })
  }
  const seen: number[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await store.findOutputs({ limit: 500, ...(cursor ? { before: cursor } : {}) })
    if (page.length === 0) break
    seen.push(...page.map((o) => o.seed))
    cursor = page.at(-1)!.cursor
  }
  assert.deepEqual(seen, Array.from({ length: 1200 }, (_, i) => 1199 - i))
  assert.deepEqual((await store.findOutputs({ limit: 50, text: 'RED FOX' })).map((o) => o.seed), [1100, 1000, 900, 800, 700, 600, 500, 400, 300, 200, 100, 0])
  // LIKE wildcards in the search text are literal.
  assert.equal((await store.findOutputs({ limit: 2000, text: '100%_' })).length, 1200)
  assert.equal((await store.findOutputs({ limit: 2000, text: '1%0' })).length, 0)
  assert.deepEqual((await store.findOutputs({ limit: 50, since: 1001, until: 1003 })).map((o) => o.seed), [5, 4, 3, 2])
  assert.deepEqual((await store.findOutputs({ limit: 5, savedOnly: true, text: 'fox' })).map((o) => o.seed), [1100, 1000, 900, 800, 600]) // 700 (a multiple of 7) was not saved
  await assert.rejects(store.findOutputs({ limit: 1, before: 'drop table' }), { name: 'InputError', message: /^before: "drop table" is not a gallery cursor/ })
})
