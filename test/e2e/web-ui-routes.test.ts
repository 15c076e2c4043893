/**
 * The web UI's server routes without a browser: the page and its assets under a strict Content-Security-Policy, only
 * built files served (no path reaches outside dist/web), and the library routes the page uses (inspect, preview,
 * tags.csv) answering for library files only.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseTagsCsv } from '../../src/server/routes/web-library.ts'
import { CONTENT_SECURITY_POLICY } from '../../src/server/routes/web-ui.ts'
import { startTestServer, type TestServer } from './server-helpers.ts'
import { ensureWebBuilt } from './web-browser.ts'

let s: TestServer
const PREVIEW = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')
before(async () => {
  ensureWebBuilt()
  s = await startTestServer({ extraFiles: { 'models/Lora/tinylora.preview.png': PREVIEW } })
})
after(() => s.dispose())

test('/ is the built page under a strict CSP; its script and stylesheet are served, nothing else is', async () => {
  const page = await fetch(`${s.url}/`)
  assert.equal(page.status, 200)
  assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY)
  assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/)
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe|https?:/)
  const html = await page.text()
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1])
  assert.equal(assets.length, 2)
  assert.doesNotMatch(html, /https?:\/\//, 'no CDN, no external font')
  for (const a of assets) {
    const res = await fetch(`${s.url}${a}`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', a.endsWith('.js') ? /^text\/javascript/ : /^text\/css/)
    assert.doesNotMatch(await res.text(), /https?:\/\/(?!www\.w3\.org)/, `${a} loads nothing from outside`)
  }
  for (const p of ['/assets/..%2Fpackage.json', '/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/assets/../index.html', '/assets/index.html', '/index.html', '/package.json']) {
    assert.equal((await fetch(`${s.url}${p}`)).status, 404, p)
  }
})

test('library inspect and preview answer for library files only; tags.csv is read from the data folder', async () => {
  const lora = (await s.fetchJson('/sdloom/v1/library?kind=lora')).body.find((e: { rel: string }) => e.rel === 'tinylora.safetensors')
  const inspected = await s.fetchJson(`/sdloom/v1/library/inspect?file=${encodeURIComponent(lora.file)}&hash=1`)
  assert.equal(inspected.status, 200)
  assert.deepEqual([inspected.body.kind, inspected.body.report.kind, inspected.body.report.architecture.id], ['lora', 'lora', 'sd1'])
  assert.match(inspected.body.hashes.sha256, /^[0-9a-f]{64}$/)
  assert.equal(inspected.body.hashes.autov2, inspected.body.hashes.sha256.slice(0, 10))
  const preview = await fetch(`${s.url}/sdloom/v1/library/preview?file=${encodeURIComponent(lora.file)}`)
  assert.deepEqual([preview.status, preview.headers.get('content-type'), Buffer.from(await preview.arrayBuffer())], [200, 'image/png', PREVIEW])
  for (const file of [join(s.root, '..', 'data', 'sdloom.db'), '/etc/passwd', `${lora.file}/../tinylora.preview.png`]) {
    assert.equal((await s.fetchJson(`/sdloom/v1/library/inspect?file=${encodeURIComponent(file)}`)).status, 404, file)
    assert.equal((await fetch(`${s.url}/sdloom/v1/library/preview?file=${encodeURIComponent(file)}`)).status, 404, file)
  }
  assert.deepEqual((await s.fetchJson('/sdloom/v1/tags')).body, [])
  await writeFile(join(s.dir, 'data', 'tags.csv'), '1girl,0,4114588,"1girls,sole_female"\n"quoted, tag",0,12,\nsolo,0,3426446,\nbroken line\n')
  assert.deepEqual((await s.fetchJson('/sdloom/v1/tags')).body, [['1girl', 4114588], ['solo', 3426446], ['quoted, tag', 12]])
  assert.deepEqual(parseTagsCsv('a,1,5\r\nb,1,7\r\n,1,9\n'), [['b', 7], ['a', 5]])
})

const until = async (what: string, ok: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 500; i++) { if (await ok()) return; await new Promise((r) => setTimeout(r, 20)) }
  throw new Error(`timed out waiting for ${what}`)
}

test('the queue reorders through POST /jobs/:id/move (404 unknown, 409 not queued, 422 bad body); rows carry a summary', async () => {
  const post = async (prompt: string, steps: number) => (await s.fetchJson('/sdloom/v1/jobs', { json: { prompt, steps, width: 64, height: 64, batch_size: 2 } })).body.id as string
  const long = await post('the long one', 150)
  await until('the long job to start', async () => (await s.fetchJson(`/sdloom/v1/jobs/${long}`)).body.state === 'running')
  const [a, b, c] = [await post('a', 1), await post('b', 1), await post('c', 1)]
  const place = async (id: string): Promise<number> => (await s.fetchJson(`/sdloom/v1/jobs/${id}`)).body.position
  assert.deepEqual((await s.fetchJson('/sdloom/v1/jobs?state=queued')).body.map((j: { id: string }) => j.id), [c, b, a])
  assert.equal((await s.fetchJson('/sdloom/v1/jobs?state=waiting')).status, 400)
  assert.deepEqual((await s.fetchJson(`/sdloom/v1/jobs/${c}/move`, { json: { position: 1 } })).body, { id: c, position: 1 })
  assert.deepEqual(await Promise.all([c, a, b].map(place)), [1, 2, 3])
  assert.deepEqual((await s.fetchJson(`/sdloom/v1/jobs/${b}/move`, { json: { before: a } })).body, { id: b, position: 2 })
  assert.deepEqual(await Promise.all([c, b, a].map(place)), [1, 2, 3])
  const running = await s.fetchJson(`/sdloom/v1/jobs/${long}/move`, { json: { position: 1 } })
  assert.deepEqual([running.status, running.body.error], [409, 'JobNotQueuedError'])
  assert.match(running.body.detail, /is running, not queued/)
  assert.equal((await s.fetchJson('/sdloom/v1/jobs/nope/move', { json: { position: 1 } })).status, 404)
  for (const bad of [{}, { position: 0 }, { position: 1, before: a }, { to: 'top' }]) {
    assert.equal((await s.fetchJson(`/sdloom/v1/jobs/${a}/move`, { json: bad })).status, 422, JSON.stringify(bad))
  }
  const view = (await s.fetchJson(`/sdloom/v1/jobs/${a}`)).body
  assert.deepEqual(view.summary, { mode: 'txt2img', prompt: 'a', negativePrompt: '', model: view.summary.model, width: 64, height: 64, steps: 1, sampler: 'Euler', images: 2 })
  assert.match(view.summary.model, /^tiny-sd1/)
  await s.fetchJson(`/sdloom/v1/jobs/${long}`, { method: 'DELETE' })
  await until('the queue to empty', async () => (await Promise.all([a, b, c].map(async (id) => (await s.fetchJson(`/sdloom/v1/jobs/${id}`)).body.state))).every((st) => st === 'done'))
  // The runner took them in the new order.
  const started = await Promise.all([c, b, a].map(async (id) => (await s.fetchJson(`/sdloom/v1/jobs/${id}`)).body.startedAt as number))
  assert.ok(started[0]! <= started[1]! && started[1]! <= started[2]!, `start times ${started.join(', ')}`)

  // The gallery and the job list page by cursor; the gallery filters by text in the database.
  const all = (await s.fetchJson('/sdloom/v1/images?limit=500&saved=true')).body as { cursor: string; jobId: string; infotext: string }[]
  assert.deepEqual(all.map((im) => im.jobId), [a, a, b, b, c, c])
  const first = (await s.fetchJson('/sdloom/v1/images?limit=4&saved=true')).body
  const rest = (await s.fetchJson(`/sdloom/v1/images?limit=4&saved=true&before=${first[3].cursor}`)).body
  assert.deepEqual([...first, ...rest], all)
  assert.deepEqual((await s.fetchJson(`/sdloom/v1/images?q=${encodeURIComponent('B\nSTEPS')}`)).body.map((im: { jobId: string }) => im.jobId), [b, b])
  assert.equal((await s.fetchJson(`/sdloom/v1/images?since=${Date.now() + 60_000}`)).body.length, 0)
  const badCursor = await s.fetchJson('/sdloom/v1/images?before=yesterday')
  assert.equal(badCursor.status, 400)
  assert.match(badCursor.body.detail, /^before: "yesterday" is not a gallery cursor\. Hint: pass the `cursor` field/)
  assert.equal((await s.fetchJson('/sdloom/v1/images?until=soon')).status, 400)
  const jobs = (await s.fetchJson('/sdloom/v1/jobs?limit=2')).body.map((j: { id: string }) => j.id)
  assert.deepEqual(jobs, [c, b])
  assert.deepEqual((await s.fetchJson(`/sdloom/v1/jobs?limit=2&before=${b}`)).body.map((j: { id: string }) => j.id), [a, long])
})
