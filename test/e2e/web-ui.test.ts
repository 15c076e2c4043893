/**
 * The web UI in a real browser (Debian's Chromium via playwright-core) against `sdloom serve`'s app with the tiny
 * reference models laid out as an A1111 folder: generate through the real engine with a LoRA card, watch progress,
 * find the image in the history; restore parameters from a dropped PNG; interrupt a long job (scripted engine, so
 * the job's length does not depend on the machine); a phone-sized viewport never scrolls sideways. The queue reorders;
 * the history pages past its first page and searches the whole database; img2img takes a picture, paints, undoes
 * and inverts a mask, and sends A1111's inpaint fields through the jobs API to the engine's img2img request;
 * "send to img2img" carries a history image and its parameters over.
 * WEBUI_SHOTS=dir saves desktop (1280 px) and phone (375 px) screenshots of every view there.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { EngineClient } from '../../src/engine/client.ts'
import { decodePng, encodePng } from '../../src/image/png.ts'
import { readPngTexts } from '../../src/image/png-chunks.ts'
import { ref, TOKENIZER_DIR } from '../golden.ts'
import { scriptedEngine, startTestServer, type TestServer } from './server-helpers.ts'
import { chromiumSkip, ensureWebBuilt, launchBrowser } from './web-browser.ts'

const TESTS = {
  generate: 'choose the model, click a LoRA card, generate: progress, then the image and its infotext in results and history',
  png: 'autocomplete takes an embedding name; a dropped PNG shows its parameters and restores them into the form',
  interrupt: 'Interrupt ends a long job; errors from the server appear next to their control',
  phone: 'a phone-sized viewport has no horizontal scroll on any view, in both themes',
  queue: 'queue rows show prompt, size and steps; a queued job moves to the top, up and down, and the server runs that order',
  history: 'the history loads more on scroll past its first page; search and date range reach every image; send to img2img',
  img2img: 'img2img: drop or choose a picture, paint / erase / undo / invert / clear a mask; the job reaches the engine as an inpaint',
  hires: 'hires fix: turned on, upscaler / scale / steps / checkpoint chosen, the image comes back at the target size with A1111\'s Hires fields',
}
const SHOTS = process.env.WEBUI_SHOTS
async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return
  mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}
const skip = chromiumSkip('test/e2e/web-ui.test.ts', Object.values(TESTS))

let real: TestServer
let scripted: TestServer
let scriptedEng: ReturnType<typeof scriptedEngine>
let browser: Browser
let problems: string[] = []
const T0 = Date.now()
const lap = (what: string): void => { if (process.env.WEBUI_TIMING) console.log(`${what}: ${Date.now() - T0} ms`) }

before(async () => {
  if (skip) return
  ensureWebBuilt()
  const extraFiles = { 'models/Lora/xl/tinyxl_lora.safetensors': readFileSync(ref('sdxl', 'adapters', 'tinyxl_lora.safetensors')) }
  real = await startTestServer({ extraFiles, createEngine: (resolver) => new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false }) })
  scripted = await startTestServer({ createEngine: () => (scriptedEng = scriptedEngine(40)) })
  browser = await launchBrowser()
  lap('before')
})
after(async () => {
  await browser?.close()
  await real?.dispose()
  await scripted?.dispose()
})

/** A page that records console errors (CSP violations among them) and uncaught exceptions. */
async function open(url: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  problems = []
  const page = await browser.newPage({ viewport })
  // A refused request logs "Failed to load resource" (the interrupt test provokes one); anything else is a defect.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded with a status of 4')) problems.push(`console: ${m.text()}`) })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  lap('open')
  await page.goto(url)
  await page.getByLabel('Checkpoint', { exact: true }).locator('option').first().waitFor({ state: 'attached' })
  lap('opened')
  return page
}

const field = (page: Page, label: string) => page.getByLabel(label, { exact: true })

test(TESTS.generate, { skip }, async () => {
  const page = await open(real.url)
  await field(page, 'Checkpoint').selectOption({ label: 'tiny-sd1.safetensors' })
  await field(page, 'Prompt').fill('a tiny house')
  // The SDXL LoRA is marked as not fitting the SD1 checkpoint; the SD1 one is not.
  await page.getByText('SDXL base ≠ checkpoint').waitFor()
  assert.equal(await page.locator('.card', { hasText: 'tinylora' }).locator('.badge.bad').count(), 0)
  await page.getByRole('button', { name: 'Add LoRA tinylora to the prompt' }).click()
  assert.equal(await field(page, 'Prompt').inputValue(), 'a tiny house, <lora:tinylora:1>')
  await page.getByRole('button', { name: 'Remove LoRA tinylora from the prompt' }).click()
  assert.equal(await field(page, 'Prompt').inputValue(), 'a tiny house')
  await page.getByRole('button', { name: 'Add LoRA tinylora to the prompt' }).click()
  await page.getByLabel('Weight of tinylora').fill('0.8')
  assert.equal(await field(page, 'Prompt').inputValue(), 'a tiny house, <lora:tinylora:0.8>')
  await field(page, 'Negative prompt').focus()
  await page.getByRole('tab', { name: 'Textual inversion' }).click()
  await page.getByRole('button', { name: 'Add embedding tinyneg to the negative prompt' }).click()
  assert.equal(await field(page, 'Negative prompt').inputValue(), 'tinyneg')
  for (const [label, value] of [['Sampling steps', '4'], ['Width', '64'], ['Height', '64'], ['Seed (-1: random)', '42']]) await field(page, label).fill(value)
  await field(page, 'Sampling method').selectOption('Euler')
  // Record whether the progress bar and a live preview ever show, however fast the tiny model is.
  // (Browser-side snippets are strings: the test's tsconfig has no DOM types.)
  await page.evaluate(`new MutationObserver(() => {
    window.seen ??= new Set()
    if (document.querySelector('progress')) window.seen.add('progress')
    if (document.querySelector('img.preview')) window.seen.add('preview')
  }).observe(document.body, { subtree: true, childList: true, attributes: true })`)
  lap('before generate')
  await field(page, 'Prompt').press('Control+Enter')
  const infotext = await page.getByTestId('result-infotext').textContent({ timeout: 60_000 })
  lap('after generate')
  assert.deepEqual(await page.evaluate('[...window.seen].sort()'), ['preview', 'progress'])
  assert.match(infotext!, /^a tiny house, <lora:tinylora:0\.8>\nNegative prompt: tinyneg\nSteps: 4, Sampler: Euler, Schedule type: Automatic, CFG scale: 7, Seed: 42, Size: 64x64, .*Model: tiny-sd1, .*Lora hashes: "tinylora: [0-9a-f]{12}"/s)
  // The image the page shows carries the same infotext, and the history has it.
  const src = await page.locator('.results img.main-image').getAttribute('src')
  const png = Buffer.from(await (await fetch(`${real.url}${src}`)).arrayBuffer())
  assert.equal(readPngTexts(png).find((t) => t.keyword === 'parameters')?.text, infotext)
  await shot(page, 'desktop-txt2img')
  await page.getByRole('tab', { name: 'History' }).click()
  await page.locator('.gallery .thumb').first().click()
  assert.equal(await page.locator('.detail .infotext').textContent(), infotext)
  await page.getByLabel('Search prompt or model').fill('no such prompt')
  await page.getByTestId('history-count').filter({ hasText: /^0 image\(s\)$/ }).waitFor()
  assert.equal(await page.locator('.gallery .thumb').count(), 0)
  // A1111's "send to img2img" from the results: the picture and its prompt fill the img2img tab.
  await page.getByRole('tab', { name: 'txt2img' }).click()
  await page.getByRole('button', { name: 'Send to img2img' }).click()
  const i2i = page.getByRole('tabpanel', { name: 'img2img' })
  await i2i.locator('.mask-stage img').waitFor()
  assert.equal(await i2i.getByLabel('Prompt', { exact: true }).inputValue(), 'a tiny house, <lora:tinylora:0.8>')
  assert.equal(await i2i.getByLabel('Seed (-1: random)', { exact: true }).inputValue(), '42')
  await page.close()
  assert.deepEqual(problems, [])
})

test(TESTS.png, { skip }, async () => {
  const page = await open(real.url)
  // Autocomplete first: "tinyn" offers the embedding; Enter takes it.
  await field(page, 'Prompt').fill('a cat, tinyn')
  await page.getByRole('option', { name: /tinyneg/ }).waitFor()
  await field(page, 'Prompt').press('Enter')
  assert.equal(await field(page, 'Prompt').inputValue(), 'a cat, tinyneg')
  const info = 'a red fox, (masterpiece:1.2)\nNegative prompt: blurry\nSteps: 7, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 1234, '
    + 'Size: 96x64, Model hash: 0123456789, Model: tiny-sd1, Clip skip: 2, Denoising strength: 0.45, Hires upscale: 2, Hires resize: 0x0, Version: v1.10.1'
  const png = encodePng({ width: 2, height: 2, data: new Uint8Array(12) }, { text: { parameters: info } })
  const dt = await page.evaluateHandle(`(() => {
    const t = new DataTransfer()
    t.items.add(new File([Uint8Array.from(atob('${Buffer.from(png).toString('base64')}'), (c) => c.charCodeAt(0))], 'from-a1111.png', { type: 'image/png' }))
    return t
  })()`)
  await page.dispatchEvent('main', 'drop', { dataTransfer: dt })
  assert.equal(await page.getByTestId('png-infotext').textContent(), info)
  await page.getByRole('button', { name: 'Restore parameters to generate' }).click()
  const values = await Promise.all(['Prompt', 'Negative prompt', 'Sampling steps', 'Sampling method', 'Schedule type', 'CFG scale', 'Seed (-1: random)', 'Width', 'Height', 'Clip skip', 'Checkpoint']
    .map((l) => field(page, l).inputValue()))
  assert.deepEqual(values, ['a red fox, (masterpiece:1.2)', 'blurry', '7', 'DPM++ 2M', 'karras', '5.5', '1234', '96', '64', '2', 'tiny-sd1.safetensors'])
  // hires fix comes back on with its fields (no "Hires upscaler": A1111's default latent mode)
  assert.equal(await page.getByLabel('Hires. fix').isChecked(), true)
  assert.deepEqual(await Promise.all(['Hires upscaler', 'Upscale by', 'Hires denoising strength', 'Hires checkpoint'].map((l) => field(page, l).inputValue())), ['Latent', '2', '0.45', ''])
  assert.match(await page.locator('.notice').textContent() ?? '', /Not restored: Hires resize: 0x0; Version: v1\.10\.1/)
  await page.close()
  assert.deepEqual(problems, [])
})

test(TESTS.interrupt, { skip }, async () => {
  const page = await open(scripted.url)
  await field(page, 'Prompt').fill('a long job')
  await field(page, 'Sampling steps').fill('200')
  await page.getByRole('button', { name: 'Generate', exact: true }).click()
  assert.match(await page.locator('#steps-error').textContent() ?? '', /^steps 200 is over the server's limit of 150 \(--max-steps\)/)
  await field(page, 'Sampling steps').fill('150')
  await page.getByRole('button', { name: 'Generate', exact: true }).click()
  await page.locator('.progress-text', { hasText: 'step' }).waitFor()
  const t0 = Date.now()
  await page.getByRole('button', { name: 'Interrupt' }).click()
  await page.getByText('Interrupted: 0 image(s) finished.').waitFor()
  // 150 steps of 40 ms would take 6 s; the interrupt ends it at the next step.
  assert.ok(Date.now() - t0 < 3000, `interrupt took ${Date.now() - t0} ms`)
  await page.locator('.progress.idle').waitFor()
  const jobs = (await scripted.fetchJson('/sdloom/v1/jobs?limit=1')).body
  assert.equal(jobs[0].state, 'cancelled')
  await page.close()
  assert.deepEqual(problems, [])
})

test(TESTS.phone, { skip }, async () => {
  const page = await open(real.url, { width: 375, height: 740 })
  for (const theme of ['first', 'second']) {
    for (const tab of ['txt2img', 'img2img', 'Queue', 'History', 'PNG info', 'Inspector']) {
      await page.getByRole('tab', { name: tab, exact: true }).click()
      await shot(page, `phone-${theme}-${tab.replace(' ', '-')}`)
      const [scrollWidth, width] = await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]') as number[]
      assert.ok(scrollWidth <= width, `${tab} (${theme} theme): page is ${scrollWidth} px wide in a ${width} px viewport`)
    }
    await page.getByRole('button', { name: /^Switch to (dark|light) theme$/ }).click()
  }
  await page.close()
  assert.deepEqual(problems, [])
})

/** Job ids of the queue rows, top to bottom. */
const queueRows = (page: Page): Promise<string[]> => page.evaluate(`[...document.querySelectorAll('.queue ol.job-list li')].map((li) => li.dataset.job)`) as Promise<string[]>
/** Waits for the queue rows to be these jobs in this order (page.waitForFunction evaluates a string, which the page's CSP forbids). */
async function rowsBecome(page: Page, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await queueRows(page)).join() === ids.join()) return
    await page.waitForTimeout(25)
  }
  assert.deepEqual(await queueRows(page), ids)
}

test(TESTS.queue, { skip }, async () => {
  const post = async (prompt: string, steps: number): Promise<string> =>
    (await scripted.fetchJson('/sdloom/v1/jobs', { json: { prompt, steps, width: 64, height: 96, batch_size: 2 } })).body.id
  const long = await post('a long running job', 150)
  const [a, b, c] = [await post('first waiting', 3), await post('second waiting', 4), await post('third waiting', 5)]
  const page = await open(scripted.url)
  await page.getByRole('tab', { name: 'Queue' }).click()
  await page.locator('.queue li', { hasText: 'third waiting' }).waitFor()
  assert.deepEqual(await queueRows(page), [long, a, b, c])
  assert.equal(await page.locator('.queue li', { hasText: 'second waiting' }).locator('.hint').textContent(), '64×96 · 4 steps · Euler · 2 images')
  assert.equal(await page.getByRole('button', { name: 'Move “first waiting” up' }).isDisabled(), true)
  await page.getByRole('button', { name: 'Move “third waiting” to the top' }).click()
  await rowsBecome(page, [long, c, a, b])
  await page.getByRole('button', { name: 'Move “first waiting” down' }).click()
  await rowsBecome(page, [long, c, b, a])
  await page.getByRole('button', { name: 'Move “second waiting” up' }).click()
  await rowsBecome(page, [long, b, c, a])
  await shot(page, 'desktop-queue')
  await page.getByRole('button', { name: 'Cancel “a long running job”' }).click()
  // The server runs them in the order the page shows.
  const job = async (id: string) => (await scripted.fetchJson(`/sdloom/v1/jobs/${id}`)).body
  for (let i = 0; i < 300 && (await job(a)).state !== 'done'; i++) await new Promise((r) => setTimeout(r, 20))
  const started = await Promise.all([b, c, a].map(async (id) => (await job(id)).startedAt as number))
  assert.ok(started[0]! <= started[1]! && started[1]! <= started[2]!, `started at ${started.join(', ')}`)
  await page.locator('.queue .hint', { hasText: 'Nothing queued or running.' }).waitFor()
  await page.close()
  assert.deepEqual(problems, [])
})

test(TESTS.history, { skip }, async () => {
  // 8 old foxes, then 104 cats: the foxes are past the first page (100) of the history.
  const post = async (json: object): Promise<string> => (await scripted.fetchJson('/sdloom/v1/jobs', { json: { steps: 1, width: 64, height: 64, ...json } })).body.id
  const [fox, cats] = [await post({ prompt: 'an old fox', batch_size: 8, seed: 10 }), await post({ prompt: 'a cat', batch_size: 8, n_iter: 13 })]
  for (let i = 0; i < 500 && (await scripted.fetchJson(`/sdloom/v1/jobs/${cats}`)).body.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 20))
  const page = await open(scripted.url)
  await page.getByRole('tab', { name: 'History' }).click()
  const count = page.getByTestId('history-count')
  await page.locator('.gallery li', { hasText: 'Load more' }).waitFor()
  const before = Number.parseInt(await count.textContent() ?? '', 10)
  assert.ok(before === 100, `first page: ${before}`)
  // Scrolling to the end loads the next pages (the gallery also holds the other tests' images).
  for (let i = 0; i < 40 && (await count.textContent())!.includes('+'); i++) {
    await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)')
    await page.waitForTimeout(100)
  }
  const all = (await scripted.fetchJson('/sdloom/v1/images?limit=500&saved=true')).body.length
  assert.equal(await count.textContent(), `${all} image(s)`)
  assert.ok(all >= 112)
  await page.getByLabel('Search prompt or model').fill('OLD FOX')
  await count.filter({ hasText: /^8 image\(s\)$/ }).waitFor()
  const today = await page.evaluate(`(() => { const d = new Date(); return [d.getFullYear(), String(d.getMonth() + 1).padStart(2, '0'), String(d.getDate()).padStart(2, '0')].join('-') })()`)
  await page.getByLabel('From', { exact: true }).fill(String(today))
  await page.getByLabel('To', { exact: true }).fill(String(today))
  await count.filter({ hasText: /^8 image\(s\)$/ }).waitFor()
  await page.getByLabel('From', { exact: true }).fill('2099-01-01')
  await count.filter({ hasText: /^0 image\(s\)$/ }).waitFor()
  await page.getByLabel('From', { exact: true }).fill('')
  await count.filter({ hasText: /^8 image\(s\)$/ }).waitFor()
  await shot(page, 'desktop-history')
  // Send to img2img: the picture and its parameters move to the img2img tab.
  await page.locator('.gallery .thumb').last().click()
  await page.getByRole('button', { name: 'Send to img2img' }).click()
  const i2i = page.getByRole('tabpanel', { name: 'img2img' })
  await i2i.locator('.mask-stage img').waitFor()
  assert.equal(await i2i.getByLabel('Prompt', { exact: true }).inputValue(), 'an old fox')
  assert.equal(await i2i.getByLabel('Seed (-1: random)', { exact: true }).inputValue(), '10')
  assert.match(await i2i.locator('.init-panel .hint', { hasText: '×' }).textContent() ?? '', /64×64$/)
  assert.equal(fox.length, 36)
  await page.close()
  assert.deepEqual(problems, [])
})

test(TESTS.img2img, { skip }, async () => {
  const page = await open(scripted.url)
  await page.getByRole('tab', { name: 'img2img', exact: true }).click()
  const i2i = page.getByRole('tabpanel', { name: 'img2img' })
  await i2i.getByLabel('Prompt', { exact: true }).fill('a repainted corner')
  await i2i.getByRole('button', { name: 'Generate', exact: true }).click()
  assert.match(await i2i.locator('#init-image-error').textContent() ?? '', /^Choose a picture to start from first/)
  // A picture dropped on the picture box is the init image (the page-wide drop, PNG info, does not take it).
  const dropped = encodePng({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(200) })
  const dt = await page.evaluateHandle(`(() => {
    const t = new DataTransfer()
    t.items.add(new File([Uint8Array.from(atob('${Buffer.from(dropped).toString('base64')}'), (c) => c.charCodeAt(0))], 'dropped.png', { type: 'image/png' }))
    return t
  })()`)
  await page.dispatchEvent('[data-testid=init-drop]', 'drop', { dataTransfer: dt })
  await i2i.locator('.init-panel .hint', { hasText: 'dropped.png · 64×64' }).waitFor()
  assert.equal(await page.getByRole('tab', { name: 'img2img', exact: true }).getAttribute('aria-selected'), 'true')
  // A 96×72 picture with a gradient, so a re-encoding that changed pixels would show.
  const rgb = new Uint8Array(96 * 72 * 3).map((_, i) => (i * 7) % 251)
  await i2i.getByLabel('Picture to start from').setInputFiles({ name: 'start.png', mimeType: 'image/png', buffer: Buffer.from(encodePng({ width: 96, height: 72, data: rgb })) })
  const canvas = i2i.locator('canvas.mask')
  await canvas.waitFor()
  assert.equal(await i2i.locator('#init-image-error').count(), 0, 'choosing a picture drops the "choose a picture" error')
  assert.deepEqual([await i2i.getByLabel('Width', { exact: true }).inputValue(), await i2i.getByLabel('Height', { exact: true }).inputValue()], ['96', '72'])
  const box = (await canvas.boundingBox())!
  const to = (x: number, y: number): [number, number] => [box.x + x * box.width / 96, box.y + y * box.height / 72]
  const drag = async (from: [number, number], until: [number, number]): Promise<void> => {
    await page.mouse.move(...to(...from)); await page.mouse.down(); await page.mouse.move(...to(...until), { steps: 5 }); await page.mouse.up()
  }
  const alpha = async (x: number, y: number): Promise<number> => Number(await page.evaluate(`document.querySelector('[aria-labelledby=tab-img2img] canvas.mask').getContext('2d').getImageData(${x}, ${y}, 1, 1).data[3]`))
  const probe = async (): Promise<number[]> => [await alpha(48, 36), await alpha(2, 2)]
  await i2i.getByLabel('Brush size').fill('10')
  await drag([15, 36], [81, 36])
  assert.deepEqual(await probe(), [255, 0])
  await shot(page, 'desktop-img2img')
  // The picture and its mask fit a phone's width (the canvas scales with the picture).
  await page.setViewportSize({ width: 375, height: 740 })
  const [scrollWidth, width] = await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]') as number[]
  assert.ok(scrollWidth <= width, `img2img with a picture: ${scrollWidth} px wide in ${width}`)
  await shot(page, 'phone-img2img-painted')
  await page.setViewportSize({ width: 1280, height: 900 })
  await i2i.getByRole('button', { name: 'Invert mask' }).click()
  assert.deepEqual(await probe(), [0, 255])
  await i2i.getByRole('button', { name: 'Undo' }).click()
  assert.deepEqual(await probe(), [255, 0])
  await i2i.getByRole('button', { name: 'Clear mask' }).click()
  assert.deepEqual(await probe(), [0, 0])
  await i2i.getByRole('button', { name: 'Undo' }).click()
  await i2i.getByRole('button', { name: 'Erase' }).click()
  await drag([42, 36], [54, 36])
  assert.deepEqual(await probe(), [0, 0])
  assert.equal(await alpha(21, 36), 255)
  await i2i.getByRole('button', { name: 'Undo' }).click()
  assert.deepEqual(await probe(), [255, 0])
  await i2i.getByLabel(/^Denoising strength/).fill('0.5')
  await i2i.getByLabel('Resize mode').selectOption({ label: 'Crop and resize' })
  await i2i.getByLabel('Masked content').selectOption({ label: 'latent noise' })
  await i2i.getByLabel('Inpaint area').selectOption({ label: 'Only masked' })
  await i2i.getByLabel('Only masked padding, pixels').fill('16')
  await i2i.getByLabel('Mask mode').selectOption({ label: 'Inpaint not masked' })
  await i2i.getByLabel('Sampling steps', { exact: true }).fill('4')
  // A1111's refiner panel (img2img has it too): nothing is sent until a checkpoint is chosen
  await i2i.getByLabel('Refiner', { exact: true }).check()
  await i2i.getByText('choose a checkpoint').waitFor()
  await i2i.getByLabel('Refiner checkpoint').selectOption({ label: 'tiny-sd1.safetensors' })
  await i2i.getByLabel('Switch at').fill('0.5')
  // The request as the jobs API gets it, then the engine's img2img request and the result in the tab.
  const sent = page.waitForRequest((r) => r.url().endsWith('/sdloom/v1/jobs') && r.method() === 'POST')
  await i2i.getByRole('button', { name: 'Generate', exact: true }).click()
  const body = (await sent).postDataJSON() as Record<string, any>
  assert.deepEqual({ ...body, init_images: undefined, mask: undefined, override_settings: undefined }, {
    prompt: 'a repainted corner', negative_prompt: '', sampler_name: 'Euler a', save_images: true, steps: 4, cfg_scale: 7, seed: -1, width: 96, height: 72,
    n_iter: 1, batch_size: 1, denoising_strength: 0.5, resize_mode: 1, mask_blur: 4, inpainting_fill: 2, inpaint_full_res: true,
    inpaint_full_res_padding: 16, inpainting_mask_invert: 1, init_images: undefined, mask: undefined, override_settings: undefined,
    refiner_checkpoint: 'tiny-sd1.safetensors', refiner_switch_at: 0.5,
  })
  const init = decodePng(Buffer.from(body.init_images[0], 'base64'))
  assert.deepEqual([init.width, init.height, Buffer.compare(Buffer.from(init.data), Buffer.from(rgb))], [96, 72, 0])
  const mask = decodePng(Buffer.from(body.mask, 'base64'))
  const at = (x: number, y: number): number => mask.data[(y * 96 + x) * 3]!
  assert.deepEqual([mask.width, mask.height, at(48, 36), at(21, 36), at(2, 2), at(90, 68)], [96, 72, 255, 255, 0, 0])
  const infotext = await i2i.getByTestId('result-infotext').textContent({ timeout: 30_000 })
  assert.match(infotext!, /^a repainted corner\n/)
  await shot(page, 'desktop-img2img-result')
  const req = scriptedEng.requests.at(-1)!
  assert.equal(req.mode, 'img2img')
  assert.deepEqual([req.refiner, req.refinerSwitchAt], ['tiny-sd1.safetensors', 0.5])
  if (req.mode !== 'img2img') return
  assert.deepEqual([req.init.width, req.init.height, Buffer.compare(Buffer.from(req.init.data), Buffer.from(rgb))], [96, 72, 0])
  assert.deepEqual({ ...req.inpaint, mask: undefined }, { mask: undefined, maskBlur: 4, invertMask: true, fill: 'latent-noise', onlyMasked: { padding: 16 } })
  assert.deepEqual([req.denoisingStrength, req.resizeMode, req.inpaint?.mask.data[36 * 96 + 48], req.inpaint?.mask.data[2 * 96 + 2]], [0.5, 'crop', 255, 0])
  await page.close()
  assert.deepEqual(problems, [])
})

test(TESTS.hires, { skip }, async () => {
  const page = await open(real.url)
  await field(page, 'Checkpoint').selectOption({ label: 'tiny-sd1.safetensors' })
  await field(page, 'Prompt').fill('a hires house')
  for (const [label, value] of [['Sampling steps', '3'], ['Width', '64'], ['Height', '64'], ['Seed (-1: random)', '7']]) await field(page, label).fill(value)
  await field(page, 'Sampling method').selectOption('Euler')
  assert.equal(await page.getByLabel('Hires upscaler').count(), 0, 'the panel is closed until hires fix is on')
  await page.getByLabel('Hires. fix').check()
  const upscalers = await page.getByLabel('Hires upscaler').locator('option').allTextContents()
  assert.deepEqual([upscalers[0], upscalers.includes('Lanczos'), upscalers.includes('None')], ['Latent', true, false])
  await field(page, 'Upscale by').fill('2')
  await field(page, 'Hires steps').fill('2')
  await page.getByText('from 64×64 to 128×128').waitFor()
  await page.getByLabel('Hires checkpoint').selectOption({ index: 1 })
  await field(page, 'Prompt').press('Control+Enter')
  const infotext = await page.getByTestId('result-infotext').textContent({ timeout: 60_000 })
  assert.match(infotext!, /Size: 64x64, /)
  assert.match(infotext!, /Denoising strength: 0\.7, /)
  assert.match(infotext!, /Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent, Hires checkpoint: tiny-sd1 \[[0-9a-f]{10}\]/)
  const src = await page.locator('.results img.main-image').getAttribute('src')
  const png = decodePng(Buffer.from(await (await fetch(`${real.url}${src}`)).arrayBuffer()))
  assert.deepEqual([png.width, png.height], [128, 128])
  await shot(page, 'desktop-txt2img-hires')
  await page.close()
  assert.deepEqual(problems, [])
})
