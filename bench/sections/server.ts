/**
 * `npm run bench server`: the model library and the metadata routes with 1,000 files (symlinks to the reference
 * LoRAs and checkpoint, copies of an embedding, so inspect reads real headers): a cold scan, an incremental one with nothing
 * changed and one with 10 files touched; p50/p99 latency of sd-models and loras over loopback; and request → first
 * sampling step on a warm model (the real Engine with the tiny SD1 checkpoint).
 */
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchRow, BenchSection } from '../section.ts'
import { TOKENIZER_DIR, ref } from '../../test/golden.ts'
import { Engine } from '../../src/engine/engine.ts'
import type { RunningServer } from '../../src/server/start.ts'
import { openDatabase } from '../../src/jobs/sqlite.ts'
import { Library } from '../../src/library/library.ts'
import { startServer } from '../../src/server/start.ts'

const FILES = 1000

async function makeRoot(root: string): Promise<string[]> {
  const sources = [
    ...['tinylora', 'tinyloha', 'tinylokr'].map((n) => ({ dir: 'models/Lora', src: ref('sd1', 'adapters', `${n}.safetensors`), ext: 'safetensors', count: 300 })),
    { dir: 'embeddings', src: ref('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'), ext: 'safetensors', count: 50 },
    { dir: 'models/Stable-diffusion', src: ref('sd1', 'tiny-sd1.safetensors'), ext: 'safetensors', count: 50 },
  ]
  const made: string[] = []
  for (const s of sources) {
    for (let i = 0; i < s.count; i++) {
      const dir = join(root, s.dir, `group${i % 10}`)
      await mkdir(dir, { recursive: true })
      const file = join(dir, `${s.src.split('/').pop()!.replace(/\.\w+$/, '')}-${i}.${s.ext}`)
      // The embeddings are real copies (464 bytes), so touching one changes that file only, not a shared link target.
      await (s.dir === 'embeddings' ? copyFile(s.src, file) : symlink(s.src, file))
      made.push(file)
    }
  }
  return made
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]

async function latency(url: string, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = await fetch(url)
    await r.arrayBuffer()
    out.push(performance.now() - t0)
  }
  return out
}

/** POST /sdloom/v1/jobs → the job's first `step` event, on a model the previous job left loaded. */
async function firstStep(server: RunningServer): Promise<number[]> {
  const body = JSON.stringify({ prompt: 'a house', steps: 3, width: 64, height: 64, seed: 1, sampler_name: 'Euler' })
  const out: number[] = []
  for (let i = 0; i < 4; i++) {
    let id = ''
    let t1 = 0
    const onEvent = (e: { jobId: string; type: string }): void => { if (e.type === 'step' && e.jobId === id && t1 === 0) t1 = performance.now() }
    server.ctx.events.on('event', onEvent)
    const t0 = performance.now()
    id = ((await (await fetch(`${server.url}/sdloom/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json()) as { id: string }).id
    while ((await server.ctx.jobs.get(id))?.state !== 'done') await new Promise((r) => setTimeout(r, 10))
    server.ctx.events.off('event', onEvent)
    if (i > 0) out.push(t1 - t0)
  }
  return out
}

export const section: BenchSection = {
  title: 'Server: model library and metadata routes (1,000 files)',
  async run(): Promise<BenchRow[]> {
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-server-'))
    const rows: BenchRow[] = []
    try {
      const root = join(dir, 'a1111')
      const files = await makeRoot(root)
      const db = openDatabase(join(dir, 'data', 'sdloom.db'))
      const lib = await Library.open(db, [root])
      const cold = await lib.scan()
      rows.push({ measure: `library scan, cold (${cold.files} files)`, value: `${(cold.ms / 1000).toFixed(2)} s`, note: `${(cold.ms / cold.files).toFixed(2)} ms/file: readdir + stat + inspect (header) + SQLite row` })
      const warm = await lib.scan()
      rows.push({ measure: 'library scan, incremental, nothing changed', value: `${warm.ms.toFixed(0)} ms`, note: `${warm.inspected} re-inspected` })
      const later = new Date(Date.now() + 10_000)
      for (const f of files.filter((x) => x.includes('/embeddings/')).slice(0, 10)) await utimes(f, later, later)
      const ten = await lib.scan()
      rows.push({ measure: 'library scan, incremental, 10 files changed', value: `${ten.ms.toFixed(0)} ms`, note: `${ten.inspected} re-inspected` })
      db.close()
      const server = await startServer({ dataDir: join(dir, 'data'), modelRoots: [root], port: 0, watch: false,
        createEngine: (resolver) => new Engine({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false }) })
      try {
        for (const route of ['sd-models', 'loras']) {
          await latency(`${server.url}/sdapi/v1/${route}`, 20)
          const xs = await latency(`${server.url}/sdapi/v1/${route}`, 200)
          const count = ((await (await fetch(`${server.url}/sdapi/v1/${route}`)).json()) as unknown[]).length
          rows.push({ measure: `GET /sdapi/v1/${route} (${count} items), p50 / p99`, value: `${pct(xs, 0.5).toFixed(1)} / ${pct(xs, 0.99).toFixed(1)} ms`, note: '200 sequential requests over loopback' })
        }
        const warm = await firstStep(server)
        rows.push({ measure: 'request → first sampling step, warm model (tiny SD1, 64², Euler)', value: `${Math.min(...warm).toFixed(0)}–${Math.max(...warm).toFixed(0)} ms`,
          note: '3 runs after a warm-up job; includes the job row commit, the text encoder and one UNet step (in-process Engine)' })
      } finally {
        await server.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    return rows
  },
}
