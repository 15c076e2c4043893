/**
 * The request sequences of real A1111 clients (ui-and-clients.md §2.1) replayed with fetch against a server with
 * --api-auth: SillyTavern, Open WebUI, aiyabot. Also: every route needs the credentials, --listen needs them, CORS
 * headers only for --cors origins. Engine: the scripted test double (the shapes are under test, not the model).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodePng } from '../../src/image/png.ts'
import { startServer } from '../../src/server/start.ts'
import { scriptedEngine, startTestServer, type TestServer } from './server-helpers.ts'

let s: TestServer
const auth = { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` }
before(async () => { s = await startTestServer({ auth: 'alice:s3cret', corsOrigins: ['http://localhost:8000'], createEngine: () => scriptedEngine(1) }) })
after(() => s.dispose())

const get = (path: string) => s.fetchJson(path, { headers: auth })
const post = (path: string, json: unknown) => s.fetchJson(path, { json, headers: auth })

test('every route, the LoRA ones included, needs the credentials; --listen refuses to start without them', async () => {
  for (const path of ['/sdapi/v1/loras', '/sdapi/v1/options', '/sdapi/v1/sd-models', '/sdloom/v1/jobs', '/sdapi/v1/cmd-flags', '/nowhere']) {
    const r = await s.fetchJson(path)
    assert.deepEqual([r.status, r.body.detail, r.headers.get('www-authenticate')], [401, 'Not authenticated', 'Basic'], path)
  }
  const wrong = await s.fetchJson('/sdapi/v1/loras', { headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` } })
  assert.deepEqual([wrong.status, wrong.body.detail], [401, 'Incorrect username or password'])
  assert.equal((await get('/sdapi/v1/cmd-flags')).body.api_auth, null)
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-listen-'))
  await assert.rejects(startServer({ dataDir: dir, modelRoots: [s.root], host: '0.0.0.0', port: 0, createEngine: () => scriptedEngine() }), {
    name: 'InputError', message: '--listen serves every network interface and needs credentials: add --api-auth USER:PASS',
  })
  await rm(dir, { recursive: true, force: true })
})

test('CORS headers only for the --cors origin', async () => {
  const allowed = await s.fetchJson('/sdapi/v1/samplers', { headers: { ...auth, origin: 'http://localhost:8000' } })
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://localhost:8000')
  const other = await s.fetchJson('/sdapi/v1/samplers', { headers: { ...auth, origin: 'http://evil.example' } })
  assert.equal(other.headers.get('access-control-allow-origin'), null)
})

test('SillyTavern: lists, model switch through options, progress wait, txt2img with override_settings', async () => {
  const opts = (await get('/sdapi/v1/options')).body
  assert.equal('forge_preset' in opts, false)
  const upscalers = [...(await get('/sdapi/v1/upscalers')).body, ...(await get('/sdapi/v1/latent-upscale-modes')).body].map((u: any) => u.name)
  assert.ok(upscalers.includes('Latent'))
  assert.deepEqual(upscalers.slice(0, 3), ['None', 'Lanczos', 'Nearest'])
  for (const p of ['/sdapi/v1/sd-vae', '/sdapi/v1/samplers', '/sdapi/v1/schedulers']) assert.equal((await get(p)).status, 200, p)
  const title = (await get('/sdapi/v1/sd-models')).body[0].title
  assert.equal((await post('/sdapi/v1/options', { sd_model_checkpoint: title })).status, 200)
  const progress = (await get('/sdapi/v1/progress')).body
  assert.deepEqual([progress.progress, progress.state.job_count], [0, 0])
  const res = await post('/sdapi/v1/txt2img', {
    prompt: 'a castle', negative_prompt: 'blurry', sampler_name: 'DPM++ 2M', scheduler: 'Karras', steps: 4, cfg_scale: 7, width: 64, height: 64,
    restore_faces: false, enable_hr: false, hr_upscaler: 'Latent', hr_scale: 2, denoising_strength: 0.7, hr_second_pass_steps: 0, seed: -1,
    save_images: true, send_images: true, do_not_save_grid: false, do_not_save_samples: false,
    override_settings: { CLIP_stop_at_last_layers: 2, sd_vae: 'Automatic' }, override_settings_restore_afterwards: true,
  })
  assert.equal(res.status, 200)
  assert.equal(decodePng(Buffer.from(res.body.images[0], 'base64')).width, 64)
  assert.equal(JSON.parse(res.body.info).clip_skip, 2)
  assert.equal((await get('/sdapi/v1/options')).body.CLIP_stop_at_last_layers, 1)
})

test('Open WebUI: the whole options object posted back with the model replaced, then txt2img with admin parameters', async () => {
  const opts = (await get('/sdapi/v1/options')).body
  const models = (await get('/sdapi/v1/sd-models')).body
  assert.equal((await post('/sdapi/v1/options', { ...opts, sd_model_checkpoint: models[0].title })).status, 200)
  const res = await post('/sdapi/v1/txt2img', { prompt: 'a lighthouse', batch_size: 2, width: 32, height: 32, steps: 3, negative_prompt: '', cfg_scale: 6.5, sampler_name: 'Euler a', scheduler: 'Automatic' })
  assert.equal(res.status, 200)
  assert.equal(res.body.images.length, 2)
  assert.equal(JSON.parse(res.body.info).batch_size, 2)
})

test('aiyabot: probes, sampler_index, float ints, null denoising, styles, png-info of the result, interrupt and skip when idle', async () => {
  assert.equal((await get('/sdapi/v1/cmd-flags')).status, 200)
  for (const p of ['samplers', 'prompt-styles', 'face-restorers', 'embeddings', 'hypernetworks', 'upscalers', 'sd-models', 'loras']) assert.equal((await get(`/sdapi/v1/${p}`)).status, 200, p)
  assert.equal((await get('/sdapi/v1/version')).status, 404)
  const res = await post('/sdapi/v1/txt2img', {
    prompt: 'a fox', negative_prompt: '', steps: 3.0, width: 32.0, height: 32, cfg_scale: 7.5, sampler_index: 'Euler a', seed: 12345,
    seed_resize_from_h: -1, seed_resize_from_w: -1, denoising_strength: null, n_iter: 1, styles: [], hr_second_pass_steps: 20.0,
    override_settings: { CLIP_stop_at_last_layers: 1, face_restoration_model: null }, alwayson_scripts: {},
  })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const info = await post('/sdapi/v1/png-info', { image: `data:image/png;base64,${res.body.images[0]}` })
  assert.deepEqual([info.body.parameters.Prompt, info.body.parameters.Seed, info.body.parameters['Size-1'], info.body.parameters.Sampler], ['a fox', '12345', '32', 'Euler a'])
  assert.deepEqual((await post('/sdapi/v1/interrupt', {})).body, {})
  assert.equal((await post('/sdapi/v1/skip', {})).status, 200)
})
