/** The Redis mode's pure parts: the --queue URL, failures through BullMQ's message, and the runner's concurrency. */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeFailure, encodeFailure } from './redis-protocol.ts'
import { parseQueueUrl, QueueUrlError, redactQueueUrl } from './redis-url.ts'
import { JobRunner } from './runner.ts'
import { SqliteJobStore } from './sqlite-job-store.ts'
import { openDatabase } from './sqlite.ts'

const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

test('--queue URLs: host, port, db, password, TLS; mistakes named without the password', async () => {
  assert.deepEqual(parseQueueUrl('redis://10.0.0.5:6380/2', { env: {} }), { host: '10.0.0.5', port: 6380, db: 2, maxRetriesPerRequest: null })
  assert.deepEqual(parseQueueUrl('redis://:s%40cret@cache.lan', { env: {} }), { host: 'cache.lan', port: 6379, db: 0, password: 's@cret', maxRetriesPerRequest: null })
  assert.equal(parseQueueUrl('redis://h', { env: { SDLOOM_QUEUE_PASSWORD: 'fromenv' } }).password, 'fromenv')
  assert.deepEqual(parseQueueUrl('rediss://u:p@[::1]:7000', { env: {} }).tls, { servername: '::1' })
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-queue-url-'))
  dirs.push(dir)
  await writeFile(join(dir, 'ca.pem'), 'PEM')
  assert.deepEqual(parseQueueUrl('redis://h', { env: {}, tlsCaFile: join(dir, 'ca.pem') }).tls, { ca: 'PEM', servername: 'h' })
  for (const [url, msg] of [
    ['http://h', /scheme "http:" is not redis: or rediss:/], ['redis://:hunter2@h/16', /database "16" is not a number from 0 to 15/],
    ['redis://h/1?tls=1', /options after \? or #/], ['not a url :hunter2@', /the value is not a URL/],
  ] as const) {
    assert.throws(() => parseQueueUrl(url, { env: {} }), (e: unknown) => e instanceof QueueUrlError && msg.test(e.message) && !e.message.includes('hunter2'))
  }
  assert.equal(redactQueueUrl('redis://:hunter2@h:1'), 'redis://:***@h:1')
})

test('a worker\'s failure keeps its name and message through BullMQ; a reason BullMQ wrote itself is kept as text', () => {
  assert.deepEqual(decodeFailure(encodeFailure({ name: 'LibraryNameError', message: 'no lora named "x"' })), { name: 'LibraryNameError', message: 'no lora named "x"' })
  assert.deepEqual(decodeFailure('job stalled more than allowable limit'), { name: 'RemoteJobError', message: 'job stalled more than allowable limit' })
})

test('JobRunner with concurrency 3 runs three jobs at once, in order, and takes the fourth when one ends', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-runner-'))
  dirs.push(dir)
  const db = openDatabase(join(dir, 'jobs.db'))
  const store = new SqliteJobStore(db)
  const ids = []
  for (let i = 0; i < 4; i++) ids.push((await store.enqueue('t', { i })).id)
  const started: string[] = []
  const release = new Map<string, () => void>()
  let peak = 0
  let now = 0
  const runner = new JobRunner(store, async (job) => {
    started.push(job.id)
    peak = Math.max(peak, ++now)
    await new Promise<void>((r) => release.set(job.id, r))
    now--
    return { ok: job.id }
  }, {}, { concurrency: 3 })
  await runner.start()
  while (started.length < 3) await new Promise((r) => setTimeout(r, 5))
  await new Promise((r) => setTimeout(r, 30))
  assert.deepEqual(started, ids.slice(0, 3), 'the first three, in order; the fourth waits')
  assert.equal(runner.currentJobId, ids[2])
  release.get(ids[1])!()
  while (started.length < 4) await new Promise((r) => setTimeout(r, 5))
  for (const id of [ids[0], ids[2], ids[3]]) release.get(id)!()
  while ((await store.counts()).done < 4) await new Promise((r) => setTimeout(r, 5))
  await runner.stop()
  assert.equal(peak, 3)
  db.close()
})
