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
