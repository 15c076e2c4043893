/**
 * `npm run bench webui`: the web UI's bundle size (raw and gzipped) and the time to load the page on loopback in
 * Chromium until it is usable (the model lists have arrived: the checkpoint picker has its options), cold (a new
 * browser context each time, no cache) and warm (a reload). The library is the tiny A1111 root of the server tests.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { BenchRow, BenchSection } from '../section.ts'
import { REPO_ROOT } from '../../test/golden.ts'
import { makeA1111Root } from '../../test/fixtures/server-a1111-root.ts'
import { ensureWebBuilt, launchBrowser } from '../../test/e2e/web-browser.ts'
import { startServer } from '../../src/server/start.ts'

const RUNS = 7
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function bundleRows(): Promise<BenchRow[]> {
  const dir = join(REPO_ROOT, 'dist', 'web', 'assets')
  const rows: BenchRow[] = []
  for (const name of await readdir(dir)) {
    const bytes = await readFile(join(dir, name))
    rows.push({ measure: `bundle ${name.endsWith('.js') ? 'JS' : 'CSS'}`, value: `${(bytes.length / 1024).toFixed(1)} KiB (${(gzipSync(bytes).length / 1024).toFixed(1)} KiB gzipped)`, note: name })
  }
  return rows
}

export const section: BenchSection = {
  title: 'Web UI: bundle size and page load on loopback (`npm run bench webui`)',
  async run() {
    ensureWebBuilt()
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-webui-'))
    await makeA1111Root(join(dir, 'a1111'))
    const server = await startServer({
      dataDir: join(dir, 'data'), modelRoots: [join(dir, 'a1111')], port: 0, watch: false,
      createEngine: () => { throw new Error('the page load bench generates nothing') },
    })
    const browser = await launchBrowser()
    try {
      const usable = async (page: import('playwright-core').Page, go: () => Promise<unknown>): Promise<number> => {
        const t0 = performance.now()
        await go()
        await page.getByLabel('Checkpoint', { exact: true }).locator('option').first().waitFor({ state: 'attached' })
        return performance.now() - t0
      }
      // The browser's own clock: navigation start → the page's 'sdloom-ready' mark (lists loaded), without the
      // driver's round trips.
      const inPage = async (page: import('playwright-core').Page): Promise<number> => page.evaluate("performance.getEntriesByName('sdloom-ready')[0].startTime") as Promise<number>
      const cold: number[] = []
      const warm: number[] = []
      const coldPage: number[] = []
      const warmPage: number[] = []
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext()
        const page = await context.newPage()
        cold.push(await usable(page, () => page.goto(server.url)))
        coldPage.push(await inPage(page))
        warm.push(await usable(page, () => page.reload()))
        warmPage.push(await inPage(page))
        await context.close()
      }
      return [
        ...await bundleRows(),
        { measure: 'page load to usable, cold (new context)', value: `median ${median(cold).toFixed(0)} ms, max ${Math.max(...cold).toFixed(0)} ms`, note: `${RUNS} runs; goto → checkpoint options present` },
        { measure: 'page load to usable, reload', value: `median ${median(warm).toFixed(0)} ms, max ${Math.max(...warm).toFixed(0)} ms`, note: 'assets cached (immutable), lists fetched again' },
        { measure: 'in the browser: navigation → lists loaded, cold', value: `median ${median(coldPage).toFixed(0)} ms, max ${Math.max(...coldPage).toFixed(0)} ms`, note: "performance mark 'sdloom-ready'" },
        { measure: 'in the browser: navigation → lists loaded, reload', value: `median ${median(warmPage).toFixed(0)} ms, max ${Math.max(...warmPage).toFixed(0)} ms`, note: '' },
      ]
    } finally {
      await browser.close()
      await server.close()
      await rm(dir, { recursive: true, force: true })
    }
  },
}
