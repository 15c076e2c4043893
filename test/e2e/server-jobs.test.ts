/**
 * The generation routes over a real server: A1111's blocking txt2img (with node-sd-webui, unmodified), progress
 * polling with previews, interrupt, skip, the native jobs API and its event stream. The engine is the scripted test
 * double (steps of a set length), so these tests time the queue and not the model.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import sdwebui from 'node-sd-webui'
import { readPngTexts } from '../../src/image/png-chunks.ts'
import { decodePng } from '../../src/image/png.ts'
import { scriptedEngine, startTestServer, type TestServer } from './server-helpers.ts'

let s: TestServer
const engine = scriptedEngine(15)
before(async () => { s = await startTestServer({ createEngine: () => engine }) })
after(() => s.dispose())

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('node-sd-webui txt2img: base64 PNGs carrying the infotext, info as a JSON string, the request the engine got', async () => {
  const client = sdwebui({ apiUrl: s.url })
  const res = await client.txt2img({ prompt: 'a tiny cat', negativePrompt: 'dog', steps: 3, width: 64, height: 48, seed: 42, samplingMethod: 'Euler a', batchSize: 2, cfgScale: 5 })
  assert.equal(res.images.length, 2)
  const png = Buffer.from(res.images[1], 'base64')
  assert.deepEqual([decodePng(png).width, decodePng(png).height], [64, 48])
  const info = JSON.parse(res.info)
  assert.deepEqual([info.seed, info.all_seeds, info.width, info.steps, info.sampler_name], [42, [42, 43], 64, 3, 'Euler a'])
  assert.equal(readPngTexts(png).find((t) => t.keyword === 'parameters')?.text, info.infotexts[1])
  assert.match(info.infotexts[1], /^a tiny cat\nNegative prompt: dog\nSteps: 3, Sampler: Euler a, CFG scale: 5, Seed: 43, Size: 64x48/)
  const req = engine.requests.at(-1)!
  assert.deepEqual({ model: req.model, prompt: req.prompt, seed: req.seed, batchSize: req.batchSize, batchCount: req.batchCount, clipSkip: req.clipSkip, rng: req.rng },
    { model: 'tiny-sd1.safetensors', prompt: 'a tiny cat', seed: 42, batchSize: 2, batchCount: 1, clipSkip: 1, rng: 'gpu' })
})

test('save_images writes outputs/txt2img-images/DATE/NNNNN-SEED.png with the infotext; n_iter continues the seeds; styles merge', async () => {
  await s.fetchJson('/sdapi/v1/options', { json: { show_progress_every_n_steps: 2 } })
  const res = await s.fetchJson('/sdapi/v1/txt2img/', { json: { prompt: 'p', steps: 2, width: 32, height: 32, seed: 7, n_iter: 2, save_images: true, send_images: false, sampler_index: 'Euler' } })
  assert.equal(res.status, 200)
  assert.deepEqual(res.body.images, [])
  const info = JSON.parse(res.body.info)
  assert.deepEqual(info.all_seeds, [7, 8])
  const jobs = (await s.fetchJson('/sdloom/v1/jobs?limit=1')).body
  assert.equal(jobs[0].images.length, 2)
  const file = (await s.ctx.jobs.outputs(jobs[0].id))[1].file!
  assert.match(file, /data\/outputs\/txt2img-images\/\d{4}-\d\d-\d\d\/00001-8\.png$/)
  assert.equal(readPngTexts(readFileSync(file)).find((t) => t.keyword === 'parameters')?.text, info.infotexts[1])
  const gallery = (await s.fetchJson('/sdloom/v1/images?limit=2')).body
  assert.deepEqual(gallery.map((g: any) => [g.jobId, g.seed, g.infotext]), [[jobs[0].id, 8, info.infotexts[1]], [jobs[0].id, 7, info.infotexts[0]]])
  const img = await fetch(`${s.url}${jobs[0].images[1].url}`)
  assert.deepEqual(Buffer.from(await img.arrayBuffer()), readFileSync(file))
})

test('progress polling sees increasing steps and a preview; interrupt ends the job early with what finished', async () => {
  const pending = s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'long', steps: 140, width: 16, height: 16, seed: 1 } })
  const seen: number[] = []
  let preview: string | null = null
  for (let i = 0; i < 200 && seen.length < 3; i++) {
    await sleep(40)
    const p = (await s.fetchJson('/sdapi/v1/progress')).body
    if (p.state.sampling_step > 0 && p.state.sampling_step !== seen.at(-1)) seen.push(p.state.sampling_step)
    preview ??= p.current_image
    assert.ok(p.progress >= 0 && p.progress <= 1)
  }
  assert.ok(seen.length === 3 && seen[0] < seen[1] && seen[1] < seen[2], `steps ${seen}`)
  assert.ok(preview && decodePng(Buffer.from(preview, 'base64')).width === 8)
  const t0 = Date.now()
  assert.deepEqual((await s.fetchJson('/sdapi/v1/interrupt', { method: 'POST' })).body, {})
  const res = await pending
  assert.ok(Date.now() - t0 < 1000)
  assert.deepEqual([res.status, res.body.images], [200, []])
  const idle = (await s.fetchJson('/sdapi/v1/progress')).body
  assert.deepEqual([idle.progress, idle.state.job_count], [0, 0])
})

test('skip ends the current batch and goes on with the next', async () => {
  const pending = s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'skip', steps: 30, width: 16, height: 16, seed: 100, n_iter: 2 } })
  while ((await s.fetchJson('/sdapi/v1/progress')).body.state.sampling_step < 2) await sleep(20)
  assert.equal((await s.fetchJson('/sdapi/v1/skip', { method: 'POST' })).status, 200)
  const res = await pending
  assert.deepEqual(JSON.parse(res.body.info).all_seeds, [101])
})

test('the jobs API: 202 with an id, queue positions, cancel of a queued job, SSE events with previews and images', async () => {
  const events: string[] = []
  const ac = new AbortController()
  const stream = fetch(`${s.url}/sdloom/v1/events`, { signal: ac.signal }).then(async (r) => {
    const reader = r.body!.getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      events.push(...Buffer.from(value).toString().split('\n').filter((l) => l.startsWith('event: ')).map((l) => l.slice(7)))
    }
  }).catch(() => undefined)
  await sleep(50)
  const a = await s.fetchJson('/sdloom/v1/jobs', { json: { prompt: 'a', steps: 6, width: 16, height: 16, seed: 5 } })
  const b = await s.fetchJson('/sdloom/v1/jobs', { json: { prompt: 'b', steps: 6, width: 16, height: 16 } })
  const c = await s.fetchJson('/sdloom/v1/jobs', { json: { prompt: 'c', steps: 6, width: 16, height: 16 } })
  assert.deepEqual([a.status, typeof a.body.id], [202, 'string'])
  assert.equal(c.body.position, 2)
  assert.deepEqual((await s.fetchJson(`/sdloom/v1/jobs/${c.body.id}`, { method: 'DELETE' })).body, { id: c.body.id, outcome: 'cancelled' })
  for (let i = 0; i < 100 && (await s.fetchJson(`/sdloom/v1/jobs/${b.body.id}`)).body.state !== 'done'; i++) await sleep(30)
  const done = (await s.fetchJson(`/sdloom/v1/jobs/${a.body.id}`)).body
  assert.deepEqual([done.state, done.images.length, done.images[0].seed], ['done', 1, 5])
  // The jobs API keeps what it makes unless told not to (save_images omitted → saved, served from its url).
  assert.equal(done.images[0].url, `/sdloom/v1/jobs/${a.body.id}/images/0`)
  const png = await fetch(`${s.url}${done.images[0].url}`)
  assert.deepEqual([png.status, png.headers.get('content-type')], [200, 'image/png'])
  assert.equal((await s.fetchJson(`/sdloom/v1/jobs/${c.body.id}`)).body.state, 'cancelled')
  assert.equal((await s.fetchJson('/sdloom/v1/jobs/no-such-job')).status, 404)
  await sleep(50)
  ac.abort()
  await stream
  for (const type of ['queued', 'started', 'step', 'image', 'settled']) assert.ok(events.includes(type), `${type} in ${events}`)
})
