/**
 * The web UI in a real browser (Debian's Chromium via playwright-core) against `sdloom serve`'s app with the tiny
 * reference models laid out as an A1111 folder: generate through the real engine with a LoRA card, watch progress,
 * find the image in the history; restore parameters from a dropped PNG; interrupt a long job (scripted engine, so
 * the job's length does not depend on the machine); a phone-sized viewport never scrolls sideways.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { EngineClient } from '../../src/engine/client.ts'
import { encodePng } from '../../src/image/png.ts'
import { readPngTexts } from '../../src/image/png-chunks.ts'
import { ref, TOKENIZER_DIR } from '../golden.ts'
import { scriptedEngine, startTestServer, type TestServer } from './server-helpers.ts'
import { chromiumSkip, ensureWebBuilt, launchBrowser } from './web-browser.ts'

const TESTS = {
  generate: 'choose the model, click a LoRA card, generate: progress, then the image and its infotext in results and history',
  png: 'autocomplete takes an embedding name; a dropped PNG shows its parameters and restores them into the form',
  interrupt: 'Interrupt ends a long job; errors from the server appear next to their control',
  phone: 'a phone-sized viewport has no horizontal scroll on any view, in both themes',
}
const skip = chromiumSkip('test/e2e/web-ui.test.ts', Object.values(TESTS))

let real: TestServer
let scripted: TestServer
let browser: Browser
let problems: string[] = []
const T0 = Date.now()
const lap = (what: string): void => { if (process.env.WEBUI_TIMING) console.log(`${what}: ${Date.now() - T0} ms`) }

before(async () => {
  if (skip) return
  ensureWebBuilt()
  const extraFiles = { 'models/Lora/xl/tinyxl_lora.safetensors': readFileSync(ref('sdxl', 'adapters', 'tinyxl_lora.safetensors')) }
  real = await startTestServer({ extraFiles, createEngine: (resolver) => new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false }) })
  scripted = await startTestServer({ createEngine: () => scriptedEngine(40) })
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
  await page.getByRole('tab', { name: 'History' }).click()
  await page.locator('.gallery .thumb').first().click()
  assert.equal(await page.locator('.detail .infotext').textContent(), infotext)
  await page.getByLabel('Search prompt or model').fill('no such prompt')
  assert.equal(await page.locator('.gallery .thumb').count(), 0)
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
    + 'Size: 96x64, Model hash: 0123456789, Model: tiny-sd1, Clip skip: 2, Hires upscale: 2, Version: v1.10.1'
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
  assert.match(await page.locator('.notice').textContent() ?? '', /Not restored: Hires upscale: 2; Version: v1\.10\.1/)
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
    for (const tab of ['txt2img', 'Queue', 'History', 'PNG info', 'Inspector']) {
      await page.getByRole('tab', { name: tab }).click()
      const [scrollWidth, width] = await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]') as number[]
      assert.ok(scrollWidth <= width, `${tab} (${theme} theme): page is ${scrollWidth} px wide in a ${width} px viewport`)
    }
    await page.getByRole('button', { name: /^Switch to (dark|light) theme$/ }).click()
  }
  await page.close()
  assert.deepEqual(problems, [])
})
