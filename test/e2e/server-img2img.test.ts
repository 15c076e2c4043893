/**
 * How A1111's hires, refiner, variation, sampler-parameter and img2img fields become the Engine's request, and how
 * hostile pictures are refused, over a real server with the scripted engine double (the requests it receives are
 * the mapping's result; the real engine's pixels are server-generate.test.ts's). A decompression bomb (a small PNG
 * whose header claims 30000² pixels), bad base64 and undecodable bytes are 400s naming the field, and the server
 * keeps serving.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { crc32, deflateSync } from 'node:zlib'
import { join } from 'node:path'
import type { Img2ImgGeneration, ModelResolver, Txt2ImgGeneration } from '../../src/engine/contract.ts'
import type { GenerationJobPayload } from '../../src/server/request-base.ts'
import { acceptJob } from '../../src/server/routes/a1111-generate.ts'
import { ref } from '../golden.ts'
import { scriptedEngine, startTestServer, type TestServer } from './server-helpers.ts'

let s: TestServer
const engine = scriptedEngine(1)
before(async () => { s = await startTestServer({ createEngine: () => engine }) })
after(() => s.dispose())

const base = { prompt: 'p', steps: 2, width: 64, height: 64, seed: 1, sampler_name: 'Euler' }
const last = <T>(): T => engine.requests.at(-1) as unknown as T

/** A PNG of `w`×`h` RGB whose IDAT holds a few hundred bytes: what a decoder would expand is w × h × 3 bytes. */
function bombPng(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const out = Buffer.alloc(8 + data.length + 4)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(crc32(body), 8 + data.length)
    return out
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1 << 16))), chunk('IEND', Buffer.alloc(0))])
}

test('enable_hr maps to hires (resize wins over scale, "Use same sampler" = none, Forge hr_cfg); firstphase_width/height set the first pass', async () => {
  const r = await s.fetchJson('/sdapi/v1/txt2img', {
    json: {
      ...base, enable_hr: true, hr_scale: 3, hr_resize_x: 128, hr_resize_y: 0, hr_upscaler: 'Lanczos', hr_second_pass_steps: 3.0, denoising_strength: 0.4,
      hr_sampler_name: 'Use same sampler', hr_scheduler: 'Karras', hr_prompt: 'q', hr_negative_prompt: '', hr_cfg: 5, firstphase_width: 32, firstphase_height: 48,
    },
  })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const req = last<Txt2ImgGeneration>()
  assert.deepEqual([req.width, req.height], [32, 48])
  assert.deepEqual(req.hires, { resizeWidth: 128, resizeHeight: 0, upscaler: 'Lanczos', steps: 3, denoisingStrength: 0.4, prompt: 'q', scheduler: 'Karras', cfgScale: 5 })
  assert.equal(JSON.parse(r.body.info).denoising_strength, 0.4)
  await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: false, hr_scale: 2 } })
  assert.equal(last<Txt2ImgGeneration>().hires, undefined)
})

test('a hires target over the pixel limit, and bad hires values, are 400s naming the field', async () => {
  const big = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, width: 1024, height: 1024, enable_hr: true, hr_scale: 4 } })
  assert.equal(big.status, 400)
  assert.match(big.body.detail, /^the hires target \(hr_scale\) 4096×4096 = 16777216 is over the server's limit of 4194304 \(--max-pixels\)/)
  const resize = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: true, hr_resize_x: 4096, hr_resize_y: 4096 } })
  assert.match(resize.body.detail, /^the hires target \(hr_resize_x × hr_resize_y\) 4096×4096/)
  const steps = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: true, hr_second_pass_steps: 1000 } })
  assert.match(steps.body.detail, /^hr_second_pass_steps 1000 is over the server's limit of 150 \(--max-steps\)/)
  const ckpt = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: true, hr_checkpoint_name: 'other.safetensors' } })
  assert.equal(ckpt.status, 400)
  assert.match(ckpt.body.detail, /other\.safetensors/)
  const upscaler = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: true, hr_upscaler: 'ESRGAN_9x' } })
  assert.match(upscaler.body.detail, /^hr_upscaler: could not find upscaler named "ESRGAN_9x"/)
  const phase = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, firstphase_width: 64 } })
  assert.match(phase.body.detail, /^firstphase_width and firstphase_height must both be set/)
})

test('refiner_checkpoint resolves through the library; subseed -1 is random; sampler params and sdloom_weights reach the request', async () => {
  const r = await s.fetchJson('/sdapi/v1/txt2img', {
    json: { ...base, refiner_checkpoint: 'tiny-sd1', refiner_switch_at: 0.5, subseed: -1, subseed_strength: 0.2, seed_resize_from_w: 32, seed_resize_from_h: 32, s_churn: 0.3, s_tmax: 0, override_settings: { sdloom_weights: 'int8', s_noise: 0.95 } },
  })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const req = last<Txt2ImgGeneration>()
  assert.equal(req.refiner, 'tiny-sd1.safetensors')
  assert.equal(req.refinerSwitchAt, 0.5)
  assert.ok(Number.isInteger(req.subseed) && req.subseed! >= 0 && req.subseed! < 4294967294)
  assert.deepEqual([req.subseedStrength, req.seedResizeFrom, req.weights, req.samplerParams], [0.2, { width: 32, height: 32 }, 'int8', { sChurn: 0.3, sNoise: 0.95 }])
  const info = JSON.parse(r.body.info)
  assert.deepEqual([info.subseed, info.seed_resize_from_w], [req.subseed, 32])
  const none = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, refiner_checkpoint: 'None' } })
  assert.equal(none.status, 200)
  assert.equal(last<Txt2ImgGeneration>().refiner, undefined)
  // hr_checkpoint_name resolves through the library as refiner_checkpoint does; "Use same checkpoint" is none
  const hr = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: true, hr_checkpoint_name: 'tiny-sd1' } })
  assert.equal(hr.status, 200, JSON.stringify(hr.body))
  assert.equal(last<Txt2ImgGeneration>().hires?.checkpoint, 'tiny-sd1.safetensors')
  await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: true, hr_checkpoint_name: 'Use same checkpoint' } })
  assert.equal(last<Txt2ImgGeneration>().hires?.checkpoint, undefined)
  assert.deepEqual([last<Txt2ImgGeneration>().aestheticScore, last<Txt2ImgGeneration>().negativeAestheticScore], [undefined, undefined], 'A1111\'s defaults: not in the request')
  // A1111's SDXL refiner aesthetic-score settings reach the request (override_settings as any option)
  const scored = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, override_settings: { sdxl_refiner_high_aesthetic_score: 7, sdxl_refiner_low_aesthetic_score: 1.5 } } })
  assert.equal(scored.status, 200)
  assert.deepEqual([last<Txt2ImgGeneration>().aestheticScore, last<Txt2ImgGeneration>().negativeAestheticScore], [7, 1.5])
  const missing = await s.fetchJson('/sdapi/v1/txt2img', { json: { ...base, refiner_checkpoint: 'nope' } })
  assert.equal(missing.status, 400)
  const weights = await s.fetchJson('/sdapi/v1/options', { json: { sdloom_weights: 'fp16' } })
  assert.match(weights.body.detail, /^option sdloom_weights: expected one of auto, fp32, int8, w8a8/)
})

test('img2img fields map to the engine\'s img2img request with A1111\'s API defaults (fill, only masked, padding 0)', async () => {
  const init = (await readFile(ref('sd1', 'inpaint', 'init.png'))).toString('base64')
  const mask = (await readFile(ref('sd1', 'inpaint', 'mask.png'))).toString('base64')
  const r = await s.fetchJson('/sdapi/v1/img2img', { json: { ...base, init_images: [init], mask, resize_mode: '2', image_cfg_scale: 1.5, include_init_images: true } })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const req = last<Img2ImgGeneration>()
  assert.deepEqual([req.mode, req.init.width, req.init.height, req.init.data.length, req.denoisingStrength, req.resizeMode], ['img2img', 160, 128, 160 * 128 * 3, 0.75, 'fill'])
  assert.deepEqual({ ...req.inpaint, mask: undefined }, { mask: undefined, maskBlur: 4, invertMask: false, fill: 'fill', onlyMasked: { padding: 0 } })
  assert.deepEqual([req.inpaint!.mask.width, req.inpaint!.mask.height], [160, 128])
  assert.deepEqual(r.body.parameters.init_images, [init])
  const plain = await s.fetchJson('/sdapi/v1/img2img', { json: { ...base, init_images: [init], denoising_strength: 0.3, mask_blur_x: 2, mask_blur_y: 2 } })
  assert.equal(plain.status, 200)
  assert.equal(last<Img2ImgGeneration>().inpaint, undefined)
  const blur = await s.fetchJson('/sdapi/v1/img2img', { json: { ...base, init_images: [init], mask, mask_blur_x: 2, mask_blur_y: 6 } })
  assert.match(blur.body.detail, /^mask_blur_x \(2\) and mask_blur_y \(6\) differ/)
  const fill = await s.fetchJson('/sdapi/v1/img2img', { json: { ...base, init_images: [init], mask, inpainting_fill: 4 } })
  assert.match(fill.body.detail, /^inpainting_fill must be 0..3/)
  const strength = await s.fetchJson('/sdapi/v1/img2img', { json: { ...base, init_images: [init], denoising_strength: 0 } })
  assert.match(strength.body.detail, /^denoising_strength must be in \(0, 1\]/)
})

test('hostile pictures: a PNG bomb, bad base64, undecodable bytes, a URL and no picture are 400s naming the field; the server keeps serving', async () => {
  const before = engine.requests.length
  const ask = (fields: Record<string, unknown>) => s.fetchJson('/sdapi/v1/img2img', { json: { ...base, ...fields } })
  const bomb = bombPng(30000, 30000)
  assert.ok(bomb.length < 1000)
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ init_images: [bomb.toString('base64')] }, /^init_images\[0\]: it has more than 67108864 pixels/],
    [{ init_images: [(await readFile(ref('sd1', 'img2img', 'init.png'))).toString('base64')], mask: bomb.toString('base64') }, /^mask: it has more than/],
    [{ init_images: ['data:image/png;base64,not base64!'] }, /^init_images\[0\]: not base64/],
    [{ init_images: [Buffer.from('hello, not a picture').toString('base64')] }, /^init_images\[0\]: it is not a readable PNG, JPEG or WebP picture/],
    [{ init_images: ['https://example.com/cat.png'] }, /^init_images\[0\]: pictures are not fetched from URLs/],
    [{ init_images: [] }, /^init_images: required/],
    [{}, /^init_images: required/],
  ]
  for (const [fields, message] of cases) {
    const r = await ask(fields)
    assert.equal(r.status, 400, JSON.stringify(r.body))
    assert.match(r.body.detail, message)
    assert.doesNotMatch(r.body.detail, /\/tmp|\/work|at .*\.ts/)
  }
  assert.equal(engine.requests.length, before, 'no refused picture reached the engine')
  const limited = await startTestServer({ createEngine: () => engine, limits: { maxInputPixels: 64 * 64 } })
  try {
    const r = await limited.fetchJson('/sdapi/v1/img2img', { json: { ...base, init_images: [(await readFile(ref('sd1', 'img2img', 'init.png'))).toString('base64')] } })
    assert.equal(r.status, 400)
    assert.match(r.body.detail, /^init_images\[0\]: it has more than 4096 pixels. Hint: downscale it first \(the server's limit is --max-input-pixels 4096\)/)
  } finally {
    await limited.dispose()
  }
  assert.equal((await s.fetchJson('/sdapi/v1/sd-models')).status, 200)
  assert.equal((await ask({ init_images: [(await readFile(ref('sd1', 'img2img', 'init.png'))).toString('base64')] })).status, 200)
})

test('acceptJob (what the jobs API calls): a body with init_images becomes an img2img job whose row keeps the picture encoded', async () => {
  const init = (await readFile(ref('sd1', 'img2img', 'init.png'))).toString('base64')
  const job = await acceptJob(s.ctx, { ...base, init_images: [init], denoising_strength: 0.6, save_images: true } as never, 'native')
  assert.equal(job.kind, 'img2img')
  const row = (await s.ctx.jobs.get(job.id))!.payload as GenerationJobPayload
  assert.deepEqual([row.request.mode, 'init' in row.request, row.pictures?.init === init], ['img2img', false, true])
  s.ctx.runner.wake()
  while ((await s.ctx.jobs.get(job.id))?.state !== 'done') await new Promise((r) => setTimeout(r, 10))
  const req = last<Img2ImgGeneration>()
  assert.deepEqual([req.mode, req.init.width, req.init.height, req.denoisingStrength], ['img2img', 96, 64, 0.6])
  assert.equal((await s.ctx.jobs.outputs(job.id)).length, 1)
  const txt = await acceptJob(s.ctx, { ...base } as never, 'native')
  assert.equal(txt.kind, 'txt2img')
})

test('ESRGAN-family files under models/ESRGAN and models/RealESRGAN are listed upscalers the engine\'s resolver finds by name only', async () => {
  let resolver: ModelResolver | undefined
  const t = await startTestServer({
    createEngine: (r) => { resolver = r; return scriptedEngine(1) },
    extraFiles: { 'models/ESRGAN/4x-Tiny.pth': 'not read by the listing', 'models/RealESRGAN/RealESRGAN_x4plus.pth': 'x' },
  })
  try {
    const names = (await t.fetchJson('/sdapi/v1/upscalers')).body.map((u: any) => u.name)
    assert.deepEqual(names, ['None', 'Lanczos', 'Nearest', '4x-Tiny', 'R-ESRGAN 4x+'])
    assert.equal((await t.fetchJson('/sdapi/v1/txt2img', { json: { ...base, enable_hr: true, hr_upscaler: '4x-Tiny' } })).status, 200)
    assert.equal(await resolver!.upscaler!('4x-Tiny'), join(t.root, 'models/ESRGAN/4x-Tiny.pth'))
    assert.equal(await resolver!.upscaler!('../ESRGAN/4x-Tiny'), undefined)
  } finally {
    await t.dispose()
  }
})

test('infotext (A1111 1.8+) fills what the request leaves out; fields sent, even null, and override_settings sent win', async () => {
  const infotext = 'a cat\nNegative prompt: dog\nSteps: 7, Sampler: Euler a, Schedule type: Karras, CFG scale: 5, Seed: 99, Size: 64x48, '
    + 'Clip skip: 2, ENSD: 31337, Variation seed: 5, Variation seed strength: 0.25, Denoising strength: 0.4, Hires upscale: 2, Hires upscaler: Latent, Eta: 0.5'
  const r = await s.fetchJson('/sdapi/v1/txt2img', { json: { infotext, steps: 3, cfg_scale: null, override_settings: { eta_noise_seed_delta: 0 } } })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const req = last<Txt2ImgGeneration>()
  assert.deepEqual(
    [req.prompt, req.negativePrompt, req.steps, req.sampler, req.scheduler, req.cfgScale, req.seed, req.width, req.height, req.clipSkip, req.ensd],
    ['a cat', 'dog', 3, 'Euler a', 'Karras', 7, 99, 64, 48, 2, 0])
  assert.deepEqual([req.subseed, req.subseedStrength, req.samplerParams], [5, 0.25, { eta: 0.5 }])
  assert.deepEqual(req.hires, { scale: 2, upscaler: 'Latent', denoisingStrength: 0.4 })
})
