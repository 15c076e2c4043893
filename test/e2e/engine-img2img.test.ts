/*
 * img2img, inpainting (plain and 9-channel checkpoints, whole picture and only masked, every masked-content fill),
 * variation seeds and a pixel-upscaler hires fix through the Engine's request contract reproduce the goldens the
 * pipeline's tests use (sd1/img2img, sd1/inpaint, sd1/variation: the PNG within 1, 2 for "only masked" composites, and
 * A1111's infotext fields). Every img2img request goes through JSON text first (request-json.ts: pixels as base64), so
 * a queued or stored request is the one that runs. One long-lived engine serves them all: a checkpoint loaded for
 * txt2img gains its VAE encoder when the first img2img request needs it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { GenerationRequest, Img2ImgGeneration } from '../../src/engine/contract.ts'
import { requestFromJson, requestToJson } from '../../src/engine/request-json.ts'
import { readImage } from '../../src/image/read-image.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { txt2imgHires } from '../../src/pipeline/hires.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { hasVaeEncoder } from '../../src/pipeline/vae-encoder-weights.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { assertInfotext, img2imgRequest, modeEntries, type ModeEntry } from './mode-goldens.ts'
import { maxByteDiff, tokenizer } from './pipeline-goldens.ts'

const engine = new Engine({
  resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false,
  loader: (spec, opts) => loadModel(spec.file, { ...opts, ...(spec.vae ? { vae: spec.vae } : {}), threads: 1 }),
})

const fileOf = (e: ModeEntry, p: string | null): string | undefined => (p ? ref('sd1', p.replace('../', '')) : undefined)

/** An entry as an engine request: the txt2img fields, then img2img's picture and mask as plain bytes. */
async function engineRequest(folder: string, e: ModeEntry): Promise<GenerationRequest> {
  const i = e.inputs
  const base = {
    model: fileOf(e, e.model)!, ...(e.vae ? { vae: fileOf(e, e.vae) } : {}), prompt: 'a photo of a cat, (masterpiece:1.2), best quality',
    negativePrompt: 'blurry, lowres', sampler: i.sampler as string, steps: i.steps as number, cfgScale: i.cfg as number, seed: i.seed as number,
    rng: 'cpu' as const, width: i.width as number, height: i.height as number,
    ...(i.subseed_strength ? { subseed: i.subseed as number, subseedStrength: i.subseed_strength as number } : {}),
    ...(i.seed_resize_from_w ? { seedResizeFrom: { width: i.seed_resize_from_w as number, height: i.seed_resize_from_h as number } } : {}),
  }
  if (e.kind === 'txt2img') return { mode: 'txt2img', ...base }
  const p = await img2imgRequest(folder, e)
  const req: Img2ImgGeneration = {
    mode: 'img2img', ...base, init: { width: p.init.width, height: p.init.height, data: p.init.data }, denoisingStrength: p.denoisingStrength,
    ...(p.resizeMode ? { resizeMode: p.resizeMode } : {}),
    ...(p.inpaint ? { inpaint: { ...p.inpaint, mask: { width: p.inpaint.mask.width, height: p.inpaint.mask.height, data: p.inpaint.mask.data } } } : {}),
  }
  const again = requestFromJson(requestToJson(req))
  assert.deepEqual(again, req, 'the request survives JSON text')
  return again
}

for (const folder of ['img2img', 'inpaint', 'variation']) {
  for (const e of modeEntries(folder)) {
    test(`engine ${folder} ${e.name}: the golden PNG and infotext`, async () => {
      const req = await engineRequest(folder, e)
      const { images: [img] } = await engine.generate(req)
      const png = await readImage(ref('sd1', folder, `${e.name}.png`))
      const tolerance = req.mode === 'img2img' && req.inpaint?.onlyMasked ? 2 : 1
      const d = maxByteDiff(img.rgb.data, png.data)
      assert.ok(d <= tolerance, `${e.name}.png off by ${d} > ${tolerance}`)
      assertInfotext(e, img.infotext)
    })
  }
}

test('engine hires fix with a pixel upscaler (Lanczos) adds the VAE encoder to a model loaded for txt2img; equals the pipeline', async () => {
  const sd1 = ref('sd1', 'tiny-sd1.safetensors')
  const base = { model: sd1, prompt: 'a photo of a cat', sampler: 'Euler', steps: 3, seed: 9, rng: 'cpu', width: 64, height: 64 } as const
  await engine.generate({ mode: 'txt2img', ...base })
  const [held] = (await engine.cache.handles()).filter((h) => h.model.file === sd1 && h.model.vaeFile === undefined)
  const hires = { scale: 1.5, upscaler: 'Lanczos', steps: 2, denoisingStrength: 0.5 }
  const { images: [img] } = await engine.generate({ mode: 'txt2img', ...base, hires })
  assert.ok(hasVaeEncoder(held.model), 'the cached model holds the encoder now')
  const direct = await loadModel(sd1, { threads: 1, vaeEncoder: true })
  const [want] = await txt2imgHires(direct, { ...base, hires, tokenizer }, { keepSessions: true })
  assert.deepEqual(img.rgb, imageToUint8(want.image))
  assert.match(img.infotext, /Denoising strength: 0\.5, RNG: CPU, Hires upscale: 1\.5, Hires steps: 2, Hires upscaler: Lanczos/)
  await direct.release()
})

test('engine img2img resizeMode latent: encoded at the picture\'s size, latents resized bilinearly (A1111 resize_mode 3)', async () => {
  const sd1 = ref('sd1', 'tiny-sd1.safetensors')
  const init = { width: 32, height: 48, data: new Uint8Array(32 * 48 * 3).map((_, i) => (i * 37) % 256) }
  const req: Img2ImgGeneration = { mode: 'img2img', model: sd1, prompt: 'a cat', sampler: 'Euler', steps: 4, seed: 3, rng: 'cpu', width: 64, height: 64, init, denoisingStrength: 0.5, resizeMode: 'latent' }
  const { images: [a] } = await engine.generate(req)
  const { images: [b] } = await engine.generate({ ...req, resizeMode: 'just' })
  assert.equal(a.rgb.width, 64)
  assert.notDeepEqual(a.rgb.data, b.rgb.data)
  assert.match(a.infotext, /Denoising strength: 0\.5/)
})

test('close', async () => { await engine.close() })
