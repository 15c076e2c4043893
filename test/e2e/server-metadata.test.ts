/** The A1111 list/options routes, errors and security over a real server and SQLite file (engine: the test double). */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startTestServer, type TestServer } from './server-helpers.ts'
import { hostilePickleCkpt } from '../fixtures/server-a1111-root.ts'
import { storedZip } from '../fixtures/torch-pickle-writer.ts'

let s: TestServer
before(async () => {
  s = await startTestServer({
    extraFiles: { 'models/Stable-diffusion/evil.ckpt': hostilePickleCkpt('/tmp/sdloom-server-pwned', storedZip) },
    limits: { bodyLimit: 64 * 1024, maxSteps: 40 },
  })
  await writeFile(join(s.dir, 'data', 'styles.csv'), 'name,prompt,negative_prompt\n"cinematic","{prompt}, film grain","blurry, ugly"\nplain,"oil, canvas",\n')
})
after(() => s.dispose())

test('sd-models, sd-vae, loras, embeddings list the library as A1111 shapes them; the hostile pickle only in the library view, with its error', async () => {
  const models = await s.fetchJson('/sdapi/v1/sd-models')
  assert.equal(models.status, 200)
  // not hashed yet: A1111 shows hash and sha256 as null (and the title without [hash]) until the file is hashed
  assert.deepEqual(models.body.map((m: any) => [m.title, m.model_name, m.hash, m.sha256, m.config]), [['tiny-sd1.safetensors', 'tiny-sd1', null, null, null]])
  assert.deepEqual((await s.fetchJson('/sdapi/v1/sd-vae')).body.map((v: any) => v.model_name), ['lowvar-vae.safetensors'])
  const loras = (await s.fetchJson('/sdapi/v1/loras')).body
  assert.deepEqual(loras.map((l: any) => [l.name, l.alias]), [['tinyloha', 'tinyloha'], ['tinylora', 'tinylora']])
  const emb = (await s.fetchJson('/sdapi/v1/embeddings')).body
  assert.deepEqual(Object.keys(emb.loaded), ['tinyemb', 'tinyneg'])
  const embLib = (await s.fetchJson('/sdloom/v1/library?kind=embedding')).body
  assert.equal(emb.loaded.tinyemb.shape, embLib.find((e: any) => e.rel === 'tinyemb.pt').inspect.dims[0])
  assert.equal(emb.loaded.tinyemb.vectors, embLib.find((e: any) => e.rel === 'tinyemb.pt').inspect.vectors)
  const lib = (await s.fetchJson('/sdloom/v1/library?kind=checkpoint')).body
  const evil = lib.find((e: any) => e.rel === 'evil.ckpt')
  assert.match(evil.error, /^evil\.ckpt: refused to load: the pickle references "posix\.system"/)
  assert.equal(existsSync('/tmp/sdloom-server-pwned'), false)
})

test('samplers, schedulers, styles, empty lists for what sdloom lacks, cmd-flags without credentials, memory', async () => {
  const samplers = (await s.fetchJson('/sdapi/v1/samplers')).body
  assert.ok(samplers.some((x: any) => x.name === 'Euler a' && x.aliases.includes('k_euler_a')))
  const schedulers = (await s.fetchJson('/sdapi/v1/schedulers')).body
  assert.deepEqual(schedulers.find((x: any) => x.name === 'karras'), { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false })
  assert.deepEqual((await s.fetchJson('/sdapi/v1/prompt-styles')).body, [
    { name: 'cinematic', prompt: '{prompt}, film grain', negative_prompt: 'blurry, ugly' }, { name: 'plain', prompt: 'oil, canvas', negative_prompt: '' },
  ])
  for (const r of ['hypernetworks', 'face-restorers', 'realesrgan-models', 'extensions', 'script-info']) assert.deepEqual((await s.fetchJson(`/sdapi/v1/${r}`)).body, [], r)
  assert.deepEqual((await s.fetchJson('/sdapi/v1/scripts')).body, { txt2img: [], img2img: [] })
  assert.equal((await s.fetchJson('/sdapi/v1/latent-upscale-modes')).body[0].name, 'Latent')
  const flags = (await s.fetchJson('/sdapi/v1/cmd-flags')).body
  assert.equal(flags.api_auth, null)
  const mem = (await s.fetchJson('/sdapi/v1/memory')).body
  assert.ok(mem.ram.total > 0)
  assert.equal((await s.fetchJson('/sdapi/v1/refresh-checkpoints', { method: 'POST' })).status, 200)
  assert.deepEqual((await s.fetchJson('/sdapi/v1/nothing-here')).body, { detail: 'Not Found' })
})

test('options: GET has the checkpoint title, POST takes the whole object back, checks types, refuses paths and unknown models', async () => {
  const got = await s.fetchJson('/sdapi/v1/options/')
  assert.equal(got.body.sd_model_checkpoint, 'tiny-sd1.safetensors')
  assert.equal(got.body.CLIP_stop_at_last_layers, 1)
  const back = await s.fetchJson('/sdapi/v1/options', { json: { ...got.body, sd_model_checkpoint: 'tiny-sd1', CLIP_stop_at_last_layers: 2 } })
  assert.deepEqual([back.status, back.body], [200, null])
  const now = (await s.fetchJson('/sdapi/v1/options')).body
  assert.match(now.sd_model_checkpoint, /^tiny-sd1\.safetensors \[[0-9a-f]{10}\]$/)
  assert.equal(now.CLIP_stop_at_last_layers, 2)
  const hashed = (await s.fetchJson('/sdapi/v1/sd-models')).body[0]
  assert.equal(hashed.title, now.sd_model_checkpoint)
  assert.match(hashed.sha256, /^[0-9a-f]{64}$/)
  assert.equal(hashed.hash, hashed.sha256.slice(0, 10))
  const bad = await s.fetchJson('/sdapi/v1/options', { json: { CLIP_stop_at_last_layers: 'two' } })
  assert.deepEqual([bad.status, bad.body.error, bad.body.detail], [400, 'InputError', 'option CLIP_stop_at_last_layers: expected a number, got "two"'])
  const path = await s.fetchJson('/sdapi/v1/options', { json: { sd_model_checkpoint: '../../secret.safetensors' } })
  assert.deepEqual([path.status, path.body.error], [400, 'InputError'])
  const outdir = await s.fetchJson('/sdapi/v1/options', { json: { outdir_txt2img_samples: '/etc' } })
  assert.deepEqual([outdir.status, outdir.body.detail], [400, 'option outdir_txt2img_samples: "/etc" must be a folder inside the data folder (relative, without "..")'])
  const missing = await s.fetchJson('/sdapi/v1/options', { json: { sd_model_checkpoint: 'nope' } })
  assert.deepEqual([missing.status, missing.body.error], [400, 'LibraryNameError'])
})

test('malformed JSON, wrong types, huge bodies, limits and ../ names answer clean 4xx; the server keeps serving', async () => {
  const malformed = await s.fetchJson('/sdapi/v1/txt2img', { method: 'POST', body: '{"prompt": ', headers: { 'content-type': 'application/json' } })
  assert.equal(malformed.status, 422)
  assert.equal(malformed.body.detail[0].type, 'value_error.jsondecode')
  const wrong = await s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'x', steps: 'many', width: [1] } })
  assert.equal(wrong.status, 422)
  assert.deepEqual(wrong.body.detail.map((d: any) => [d.loc, d.type]), [[['body', 'steps'], 'type_error.integer'], [['body', 'width'], 'type_error.integer']])
  const huge = await s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'x'.repeat(100 * 1024) } })
  assert.deepEqual([huge.status, huge.body.error], [413, 'LimitError'])
  assert.equal(huge.body.detail, "request body is over the server's limit of 65536 bytes (--body-limit)")
  const steps = await s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'x', steps: 41 } })
  assert.deepEqual([steps.status, steps.body.detail], [400, "steps 41 is over the server's limit of 40 (--max-steps). Hint: ask for less, or start the server with a higher --max-steps"])
  const traversal = await s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'x', override_settings: { sd_model_checkpoint: '../../../etc/passwd' } } })
  assert.equal(traversal.status, 400)
  assert.doesNotMatch(JSON.stringify(traversal.body), new RegExp(s.dir))
  const hires = await s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'x', steps: 4, enable_hr: true, hr_second_pass_steps: 41 } })
  assert.deepEqual([hires.status, hires.body.detail], [400, "hr_second_pass_steps 41 is over the server's limit of 40 (--max-steps). Hint: ask for less, or start the server with a higher --max-steps"])
  const internal = await s.fetchJson('/sdapi/v1/txt2img', { json: { prompt: 'fail inside the engine', steps: 1, width: 8, height: 8 } })
  assert.deepEqual([internal.status, internal.body.error, internal.body.detail], [500, 'InternalError', 'internal error while generating; the server log has the details'])
  assert.doesNotMatch(JSON.stringify(internal.body), /secret/)
  assert.ok(s.logs.some((l) => l.includes('/very/secret/place/weights.bin')))
  const png = await s.fetchJson('/sdapi/v1/png-info', { json: { image: 'bm90IGEgcG5n' } })
  assert.equal(png.status, 400)
  assert.equal((await s.fetchJson('/sdapi/v1/sd-models')).status, 200)
})
