/**
 * The distributed mode end to end with a real redis-server (private, append-only) and two `sdloom worker` processes
 * on the tiny SD1 model: an A1111 txt2img through Redis equals the one-machine server's answer; jobs spread over both
 * workers and a worker with the model loaded is preferred; a job for a model one worker lacks goes to the other, one
 * for a model no worker holds fails after the timeout; kill -9 of a worker mid-job, Redis killed and restarted, and
 * the server restarted mid-job each still finish every job exactly once.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EngineClient } from '../../src/engine/client.ts'
import type { JobEvent } from '../../src/server/generation.ts'
import { makeA1111Root } from '../fixtures/server-a1111-root.ts'
import { TOKENIZER_DIR } from '../golden.ts'
import { checkpointVariant, queueServe, settled, startWorker, type TestWorker } from './queue-helpers.ts'
import { redisMissing, startRedis, type TestRedis } from './redis-helpers.ts'
import { startTestServer, type TestServer } from './server-helpers.ts'

// Skipped only where redis-server is absent, with the reason printed loudly (redis-helpers.ts); CI installs it.
const opts = { skip: redisMissing, timeout: 120_000 }
let dir: string
let redis: TestRedis
let s: TestServer
let workers: TestWorker[] = []
const events: JobEvent[] = []
const env = (): NodeJS.ProcessEnv => ({ SDLOOM_CACHE: join(dir, 'cache') })
const MODEL = 'tiny-sd1.safetensors'
const body = (extra: Record<string, unknown> = {}, model = MODEL) => ({
  prompt: 'a red boat', steps: 3, width: 64, height: 64, seed: 7, sampler_name: 'Euler', cfg_scale: 7,
  override_settings: { sd_model_checkpoint: model }, ...extra,
})
const submit = async (extra: Record<string, unknown> = {}, model = MODEL): Promise<string> => {
  const r = await s.fetchJson('/sdloom/v1/jobs', { json: body({ save_images: false, ...extra }, model) })
  assert.equal(r.status, 202, JSON.stringify(r.body))
  return r.body.id as string
}
const waitFor = async (what: string, ok: () => boolean, ms = 40_000): Promise<void> => {
  const until = Date.now() + ms
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
const stepped = (id: string) => () => events.some((e) => e.jobId === id && e.type === 'step')
const ranOn = (key: string): TestWorker[] => workers.filter((w) => w.jobs().includes(key))
const startServer = async (): Promise<void> => {
  s = await startTestServer({ dir, ...queueServe(redis.url) })
  s.ctx.events.on('event', (e) => events.push(e))
}

before(async () => {
  if (redisMissing) return
  dir = await mkdtemp(join(tmpdir(), 'sdloom-queue-'))
  process.env.SDLOOM_CACHE = join(dir, 'cache')
  const [y, z] = [await checkpointVariant('y'), await checkpointVariant('z')]
  // The server knows three checkpoints; worker A holds one, worker B two, none holds tiny-z.
  await makeA1111Root(join(dir, 'a1111'), { 'models/Stable-diffusion/tiny-y.safetensors': y, 'models/Stable-diffusion/tiny-z.safetensors': z })
  await makeA1111Root(join(dir, 'root-a'))
  await makeA1111Root(join(dir, 'root-b'), { 'models/Stable-diffusion/tiny-y.safetensors': y })
  redis = await startRedis()
  workers = [startWorker('A', redis.url, join(dir, 'root-a'), join(dir, 'wa'), env()), startWorker('B', redis.url, join(dir, 'root-b'), join(dir, 'wb'), env())]
  await startServer()
  await Promise.all(workers.map((w) => w.ready))
})

after(async () => {
  if (redisMissing) return
  await s?.close()
  for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL')
  await redis?.dispose()
  await rm(dir, { recursive: true, force: true })
})

test('A1111 txt2img through Redis: the same PNG as the one-machine server, progress and previews relayed', opts, async () => {
  const request = body({ steps: 6, override_settings: { sd_model_checkpoint: MODEL, show_progress_every_n_steps: 2, live_previews_enable: true } })
  let maxStep = 0
  const poll = setInterval(() => {
    void s.fetchJson('/sdapi/v1/progress').then((r) => { maxStep = Math.max(maxStep, r.body.state.sampling_step as number) })
  }, 40)
  const served = await s.fetchJson('/sdapi/v1/txt2img', { json: request })
  clearInterval(poll)
  assert.equal(served.status, 200, JSON.stringify(served.body))
  const local = await startTestServer({ createEngine: (resolver) => new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR }) })
  try {
    const one = await local.fetchJson('/sdapi/v1/txt2img', { json: request })
    assert.equal(served.body.images[0], one.body.images[0], 'the PNG (pixels and infotext) equals the one-machine server\'s')
    assert.equal(JSON.parse(served.body.info as string).infotexts[0], JSON.parse(one.body.info as string).infotexts[0])
  } finally { await local.dispose() }
  const steps = events.filter((e) => e.type === 'step')
  assert.deepEqual(steps.map((e) => e.type === 'step' && e.step), [1, 2, 3, 4, 5, 6])
  assert.ok(steps.some((e) => e.type === 'step' && typeof e.preview === 'string'), 'previews relayed')
  assert.ok(maxStep > 0, '/sdapi/v1/progress saw sampling steps')
})

test('a free worker with the model loaded is preferred; a burst spreads over both workers', opts, async () => {
  const [hot] = workers.filter((w) => w.jobs().length === 1)
  assert.ok(hot, 'exactly one worker ran the first job')
  for (let i = 0; i < 3; i++) {
    const id = await submit({ seed: 100 + i })
    { const j = await settled(s, id); assert.equal(j.state, 'done', JSON.stringify(j.error)) }
    assert.deepEqual(ranOn(`${id}-0`).map((w) => w.id), [hot.id], 'the worker that has the model loaded took it')
  }
  assert.ok(hot.lines.filter((l) => l.event === 'job').slice(1).every((l) => l.hot === true), 'each was a load avoided')
  const burst = await Promise.all([1, 2, 3, 4, 5].map((i) => submit({ seed: 200 + i, steps: 8 })))
  for (const id of burst) { const j = await settled(s, id); assert.equal(j.state, 'done', JSON.stringify(j.error)) }
  for (const w of workers) assert.ok(burst.some((id) => w.jobs().includes(`${id}-0`)), `worker ${w.id} took part of the burst`)
})

test('a job for a model one worker lacks goes to the other; one for a model no worker holds fails after the timeout', opts, async () => {
  const y = await submit({}, 'tiny-y.safetensors')
  const z = await submit({}, 'tiny-z.safetensors')
  const done = await settled(s, y)
  assert.equal(done.state, 'done', JSON.stringify(done.error))
  assert.deepEqual(ranOn(`${y}-0`).map((w) => w.id), ['B'])
  const failed = await settled(s, z)
  assert.equal(failed.state, 'failed')
  assert.match(failed.error!.message, /^no worker holds the checkpoint with sha256 [0-9a-f]{12}…: the job waited 3 s/)
})

test('kill -9 of a worker mid-job: BullMQ\'s stalled check gives it to the other worker, which finishes it once', opts, async () => {
  const id = await submit({ steps: 30 })
  await waitFor('the first step', stepped(id))
  const [victim] = workers.filter((w) => w.stderr.includes(`job ${id}-0 (attempt 1`))
  assert.ok(victim, 'a worker started the job')
  victim.proc.kill('SIGKILL')
  const job = await settled(s, id)
  assert.equal(job.state, 'done', JSON.stringify(job.error))
  assert.equal(job.images.length, 1)
  const survivor = workers.find((w) => w !== victim)!
  assert.deepEqual(survivor.lines.filter((l) => l.key === `${id}-0`).map((l) => l.attempt), [2], 'finished once, on its second attempt')
  workers = [survivor]
})

test('Redis killed (-9) and restarted with append-only persistence: the running job and one accepted meanwhile both finish', opts, async () => {
  const running = await submit({ steps: 12, seed: 300 })
  await waitFor('the first step', stepped(running))
  await redis.kill()
  const accepted = await submit({ seed: 301 })
  await redis.start()
  for (const id of [running, accepted]) {
    const job = await settled(s, id)
    assert.equal(job.state, 'done', JSON.stringify(job.error))
    assert.equal(job.images.length, 1)
  }
})

test('the server restarted mid-job re-attaches to it: relayed to the end, run once by the worker', opts, async () => {
  const id = await submit({ steps: 16, seed: 400 })
  await waitFor('the first step', stepped(id))
  await s.close()
  await startServer()
  const job = await settled(s, id)
  assert.equal(job.state, 'done', JSON.stringify(job.error))
  assert.equal(job.images.length, 1)
  assert.equal(workers[0].lines.filter((l) => l.key === `${id}-0`).length, 1, 'the worker ran it once')
})
