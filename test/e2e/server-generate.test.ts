/**
 * Generation through the real Engine (in its worker thread, as `sdloom serve` runs it) behind the server: node-sd-webui (unmodified) asks for an image with a LoRA and
 * an embedding from the library; the PNG must equal, byte for byte, what `sdloom generate` writes for the same
 * parameters (same pixels, same infotext, same encoder). So must hires fix, variation seeds, img2img and inpainting
 * through A1111's fields against `sdloom generate --hires-*` / `sdloom img2img`.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import sdwebui from 'node-sd-webui'
import { EngineClient } from '../../src/engine/client.ts'
import { readPngTexts } from '../../src/image/png-chunks.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { runSdloom } from './generate-cli.ts'
import { startTestServer, type TestServer } from './server-helpers.ts'

let s: TestServer
before(async () => {
  s = await startTestServer({ createEngine: (resolver) => new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false }) })
})
after(() => s.dispose())

test('node-sd-webui txt2img with a LoRA and an embedding equals the CLI\'s PNG bit for bit', async () => {
  const prompt = 'a tiny house, tinyemb <lora:tinylora:0.8>'
  const client = sdwebui({ apiUrl: s.url })
  const ask = () => client.txt2img({ prompt, negativePrompt: 'tinyneg', steps: 2, width: 64, height: 64, seed: 42, samplingMethod: 'Euler', cfgScale: 7 })
  // The server runs LoRAs in "auto" mode: bypass on the first request (a switch costs nothing), merged into the
  // weights once the same set repeats, which is what the one-shot CLI does; the second answer is the merged one.
  const first = Buffer.from((await ask()).images[0], 'base64')
  const served = Buffer.from((await ask()).images[0], 'base64')
  const out = join(s.dir, 'cli.png')
  const cli = await runSdloom(['generate', prompt, '--negative', 'tinyneg', '--model', join(s.root, 'models/Stable-diffusion/tiny-sd1.safetensors'),
    '--steps', '2', '--width', '64', '--height', '64', '--seed', '42', '--sampler', 'Euler', '--cfg', '7', '--tokenizer', TOKENIZER_DIR,
    '--loras', join(s.root, 'models/Lora'), '--embeddings', join(s.root, 'embeddings'), '--out', out], { SDLOOM_CACHE: join(s.dir, 'cache') })
  assert.equal(cli.code, 0, cli.stderr)
  const written = await readFile(out)
  const infotext = readPngTexts(served).find((t) => t.keyword === 'parameters')?.text ?? ''
  assert.match(infotext, /Lora hashes: "tinylora: [0-9a-f]{12}"/)
  assert.match(infotext, /TI hashes: "(tinyemb: [0-9a-f]{12}, tinyneg|tinyneg: [0-9a-f]{12}, tinyemb)/)
  assert.equal(infotext, readPngTexts(written).find((t) => t.keyword === 'parameters')?.text)
  assert.ok(served.equals(written), 'PNG bytes differ')
  assert.equal(readPngTexts(first).find((t) => t.keyword === 'parameters')?.text, infotext)
})

/** One image from the server's txt2img/img2img as PNG bytes, and the answer's parsed `info`. */
async function served(path: string, json: Record<string, unknown>): Promise<{ png: Buffer; info: any; parameters: any }> {
  const r = await s.fetchJson(path, { json })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return { png: Buffer.from(r.body.images.at(-1), 'base64'), info: JSON.parse(r.body.info), parameters: r.body.parameters }
}

/** `sdloom generate`/`img2img` with the tiny checkpoint of the server's library; its PNG bytes. */
async function cliPng(args: readonly string[]): Promise<Buffer> {
  const out = join(s.dir, `cli-${Date.now()}.png`)
  const r = await runSdloom([...args, '--model', join(s.root, 'models/Stable-diffusion/tiny-sd1.safetensors'), '--tokenizer', TOKENIZER_DIR, '--out', out],
    { SDLOOM_CACHE: join(s.dir, 'cache') })
  assert.equal(r.code, 0, r.stderr)
  return readFile(out)
}

const infotextOf = (png: Buffer): string => readPngTexts(png).find((t) => t.keyword === 'parameters')?.text ?? ''

test('txt2img with enable_hr (hr_scale, hr_second_pass_steps, denoising_strength, hr_upscaler) equals `generate --hires-*` bit for bit', async () => {
  const got = await served('/sdapi/v1/txt2img', {
    prompt: 'a tiny house', steps: 2, width: 64, height: 64, seed: 5, sampler_name: 'Euler', cfg_scale: 7,
    enable_hr: true, hr_scale: 2, hr_second_pass_steps: 2, denoising_strength: 0.5, hr_upscaler: 'Latent',
  })
  const cli = await cliPng(['generate', 'a tiny house', '--steps', '2', '--width', '64', '--height', '64', '--seed', '5', '--sampler', 'Euler', '--cfg', '7',
    '--hires-scale', '2', '--hires-steps', '2', '--hires-denoise', '0.5', '--hires-upscaler', 'Latent'])
  assert.match(infotextOf(got.png), /Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent/)
  assert.equal(infotextOf(got.png), infotextOf(cli))
  assert.ok(got.png.equals(cli), 'PNG bytes differ')
  assert.equal(got.info.denoising_strength, 0.5)
})

test('variation seeds: n_iter numbers seeds and subseeds as A1111 (the second image equals the CLI\'s seed+1, subseed+1)', async () => {
  const got = await served('/sdapi/v1/txt2img', {
    prompt: 'a tiny house', steps: 2, width: 64, height: 64, seed: 42, sampler_name: 'Euler', n_iter: 2, subseed: 7, subseed_strength: 0.3,
  })
  assert.deepEqual([got.info.all_seeds, got.info.all_subseeds, got.info.subseed, got.info.subseed_strength], [[42, 43], [7, 8], 7, 0.3])
  const cli = await cliPng(['generate', 'a tiny house', '--steps', '2', '--width', '64', '--height', '64', '--seed', '43', '--sampler', 'Euler', '--cfg', '7',
    '--subseed', '8', '--subseed-strength', '0.3'])
  assert.match(infotextOf(got.png), /Variation seed: 8, Variation seed strength: 0.3/)
  assert.ok(got.png.equals(cli), 'PNG bytes differ')
})

test('sampler parameters reach the infotext: the request\'s s_churn/s_noise, and eta from the eta_ancestral setting', async () => {
  const churn = await served('/sdapi/v1/txt2img', { prompt: 'x', steps: 2, width: 64, height: 64, seed: 1, sampler_name: 'Euler', s_churn: 0.5, s_noise: 0.9 })
  assert.match(infotextOf(churn.png), /Sigma churn: 0.5, .*Sigma noise: 0.9/)
  const eta = await served('/sdapi/v1/txt2img', {
    prompt: 'x', steps: 2, width: 64, height: 64, seed: 1, sampler_name: 'Euler a', override_settings: { eta_ancestral: 0.5 },
  })
  assert.match(infotextOf(eta.png), /Eta: 0.5/)
  const fromRequest = await served('/sdapi/v1/txt2img', { prompt: 'x', steps: 2, width: 64, height: 64, seed: 1, sampler_name: 'Euler a', eta: 0.25 })
  assert.match(infotextOf(fromRequest.png), /Eta: 0.25/)
})

test('img2img (init picture as a data: URL) equals `sdloom img2img` bit for bit; files go to outputs/img2img-images', async () => {
  const init = ref('sd1', 'img2img', 'init.png')
  const got = await served('/sdapi/v1/img2img', {
    prompt: 'a tiny house', steps: 3, width: 96, height: 64, seed: 3, sampler_name: 'Euler a', denoising_strength: 0.5, resize_mode: 1,
    init_images: [`data:image/png;base64,${(await readFile(init)).toString('base64')}`], save_images: true,
  })
  const cli = await cliPng(['img2img', 'a tiny house', '--init', init, '--denoise', '0.5', '--resize-mode', 'crop', '--steps', '3', '--width', '96',
    '--height', '64', '--seed', '3', '--sampler', 'Euler a', '--cfg', '7'])
  assert.match(infotextOf(got.png), /Denoising strength: 0.5/)
  assert.ok(got.png.equals(cli), 'PNG bytes differ')
  assert.equal(got.info.denoising_strength, 0.5)
  assert.equal(got.parameters.init_images, null) // echoed only with include_init_images, as A1111
  const day = (await readdir(join(s.dir, 'data', 'outputs', 'img2img-images')))[0]
  assert.match(day, /^\d{4}-\d{2}-\d{2}$/)
})

test('inpainting (mask, mask_blur, inpainting_fill 1, whole picture) equals `sdloom img2img --mask` bit for bit', async () => {
  const init = ref('sd1', 'inpaint', 'init.png')
  const mask = ref('sd1', 'inpaint', 'mask.png')
  const got = await served('/sdapi/v1/img2img', {
    prompt: 'a tiny house', steps: 3, width: 64, height: 64, seed: 9, sampler_name: 'Euler', denoising_strength: 0.75,
    init_images: [(await readFile(init)).toString('base64')], mask: (await readFile(mask)).toString('base64'),
    mask_blur: 2, inpainting_fill: 1, inpaint_full_res: false,
  })
  const cli = await cliPng(['img2img', 'a tiny house', '--init', init, '--mask', mask, '--mask-blur', '2', '--inpaint-fill', 'original',
    '--denoise', '0.75', '--steps', '3', '--width', '64', '--height', '64', '--seed', '9', '--sampler', 'Euler', '--cfg', '7'])
  assert.match(infotextOf(got.png), /Mask blur: 2/)
  assert.equal(infotextOf(got.png), infotextOf(cli))
  assert.ok(got.png.equals(cli), 'PNG bytes differ')
})
