/**
 * `npm run bench queue`: the Redis mode on the tiny SD1 model (private redis-server, append-only, fsync always):
 * jobs per minute with 1, 2 and 3 `sdloom worker` processes (a burst of 6 jobs per worker, 4 steps at 64x64, after a
 * warm-up burst so each worker has the model loaded); the queue's overhead per job (server-seen latency from accept
 * to done minus the worker's own time for the job); and the extra latency of a single job against the SQLite mode
 * (the same server, its Engine in a worker thread in-process). On a 2-core machine more workers only add
 * contention: the figures measure the queue, not a cluster.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EngineClient } from '../../src/engine/client.ts'
import { TOKENIZER_DIR } from '../../test/golden.ts'
import { makeA1111Root } from '../../test/fixtures/server-a1111-root.ts'
import { queueServe, startWorker, type TestWorker } from '../../test/e2e/queue-helpers.ts'
import { redisMissing, startRedis } from '../../test/e2e/redis-helpers.ts'
import { startTestServer, type TestServer } from '../../test/e2e/server-helpers.ts'
import type { BenchRow, BenchSection } from '../section.ts'

const JOB = { prompt: 'a house', steps: 4, width: 64, height: 64, sampler_name: 'Euler', save_images: false }

async function runJob(s: TestServer, seed: number): Promise<{ id: string; ms: number }> {
  const r = await s.fetchJson('/sdloom/v1/jobs', { json: { ...JOB, seed } })
  const id = r.body.id as string
  for (;;) {
    const { body } = await s.fetchJson(`/sdloom/v1/jobs/${id}`)
    if (body.state === 'done') return { id, ms: body.finishedAt - body.createdAt }
    if (body.state !== 'queued' && body.state !== 'running') throw new Error(`job ${id} ${body.state}: ${JSON.stringify(body.error)}`)
    await new Promise((res) => setTimeout(res, 10))
  }
}

const burst = async (s: TestServer, n: number, seed: number): Promise<number> => {
  const t0 = performance.now()
  await Promise.all(Array.from({ length: n }, (_, i) => runJob(s, seed + i)))
  return performance.now() - t0
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

export const section: BenchSection = {
  title: 'Redis queue (BullMQ): jobs per minute by workers, overhead per job, latency vs SQLite mode',
  async run(): Promise<BenchRow[]> {
    if (redisMissing) return [{ measure: 'skipped', value: '-', note: redisMissing }]
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-queue-'))
    const env = { SDLOOM_CACHE: join(dir, 'cache') }
    process.env.SDLOOM_CACHE = env.SDLOOM_CACHE
    await makeA1111Root(join(dir, 'a1111'))
    const redis = await startRedis()
    const workers: TestWorker[] = []
    const rows: BenchRow[] = []
    let s: TestServer | undefined
    try {
      s = await startTestServer({ dir, ...queueServe(redis.url, 60_000) })
      for (let n = 1; n <= 3; n++) {
        const w = startWorker(`w${n}`, redis.url, join(dir, 'a1111'), join(dir, `w${n}`), env)
        workers.push(w)
        await w.ready
        await burst(s, 2 * n, 1000 * n) // warm-up: loads the model on the new worker
        const ms = await burst(s, 6 * n, 2000 * n)
        rows.push({ measure: `jobs per minute, ${n} worker${n > 1 ? 's' : ''}`, value: (6 * n / ms * 60_000).toFixed(1), note: `${6 * n} jobs in ${(ms / 1000).toFixed(1)} s` })
        if (n === 1) {
          const seen: number[] = []
          const overhead: number[] = []
          for (let i = 0; i < 5; i++) {
            const { id, ms: total } = await runJob(s, 3000 + i)
            const own = w.lines.find((l) => l.event === 'job' && l.key === `${id}-0`)?.ms as number
            seen.push(total)
            overhead.push(total - own)
          }
          rows.push({ measure: 'queue overhead per job (ms)', value: mean(overhead).toFixed(0), note: 'accept → done at the server minus the worker\'s time; mean of 5, 1 warm worker' })
          rows.push({ measure: 'single job, Redis mode (ms)', value: mean(seen).toFixed(0), note: 'accept → done, mean of 5' })
        }
      }
      for (const w of workers) w.proc.kill('SIGTERM')
      await s.close()
      s = undefined
      const local = await startTestServer({ dir, createEngine: (resolver) => new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR }) })
      try {
        await runJob(local, 1) // warm-up
        const seen: number[] = []
        for (let i = 0; i < 5; i++) seen.push((await runJob(local, 3000 + i)).ms)
        rows.push({ measure: 'single job, SQLite mode (ms)', value: mean(seen).toFixed(0), note: 'accept → done, mean of 5, warm model' })
      } finally { await local.close() }
      const [redisMs, sqliteMs] = ['single job, Redis mode (ms)', 'single job, SQLite mode (ms)'].map((m) => Number(rows.find((r) => r.measure === m)!.value))
      rows.push({ measure: 'extra latency of the Redis mode (ms)', value: (redisMs - sqliteMs).toFixed(0) })
    } finally {
      await s?.close()
      for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL')
      await redis.dispose()
      await rm(dir, { recursive: true, force: true })
    }
    return rows
  },
}
