/**
 * `npm run bench server`: the model library and the metadata routes with 1,000 files (symlinks to the reference
 * LoRAs and checkpoint, copies of an embedding, so inspect reads real headers): a cold scan, an incremental one with nothing
 * changed and one with 10 files touched; p50/p99 latency of sd-models and loras over loopback; and request → first
 * sampling step on a warm model (the real Engine with the tiny SD1 checkpoint), for txt2img and img2img; and
 * SDLOOM_BENCH_CLIENTS (16) concurrent loopback clients for SDLOOM_BENCH_SECONDS (60), each sending blocking txt2img
 * and img2img requests in turn: every accepted job must complete (none lost or failed), the queue must drain, and
 * the process's RSS is sampled every second (peak, and start vs end) to show it stays bounded.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rssMb, type BenchRow, type BenchSection } from '../section.ts'
import { TOKENIZER_DIR, ref } from '../../test/golden.ts'
import { Engine } from '../../src/engine/engine.ts'
import type { RunningServer } from '../../src/server/start.ts'
import { openDatabase } from '../../src/jobs/sqlite.ts'
import { Library } from '../../src/library/library.ts'
import { startServer } from '../../src/server/start.ts'

const FILES = 1000
const CLIENTS = Number(process.env.SDLOOM_BENCH_CLIENTS ?? 16)
const SECONDS = Number(process.env.SDLOOM_BENCH_SECONDS ?? 60)

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

/** POST to `path` → the job's first `step` event, on a model the previous job left loaded. */
async function firstStep(server: RunningServer, path: string, body: string): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < 4; i++) {
    let t1 = 0
    // from the request's start to the first step event of the job it made (one job at a time here, so the first
    // step event is that job's); the jobs API answers at once, the blocking A1111 routes when the job is done
    const onEvent = (e: { jobId: string; type: string }): void => { if (e.type === 'step' && t1 === 0) t1 = performance.now() }
    server.ctx.events.on('event', onEvent)
    const t0 = performance.now()
    const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    await r.arrayBuffer()
    const busy = async (): Promise<boolean> => { const c = await server.ctx.jobs.counts(); return c.queued + c.running > 0 }
    while (await busy()) await new Promise((res) => setTimeout(res, 10))
    server.ctx.events.off('event', onEvent)
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`)
    if (i > 0) out.push(t1 - t0)
  }
  return out
}

const initPicture = async (): Promise<string> => (await readFile(ref('sd1', 'img2img', 'init.png'))).toString('base64')

/** CLIENTS loops of blocking txt2img / img2img for SECONDS; then the queue must drain with every job done. */
async function concurrentClients(server: RunningServer): Promise<BenchRow[]> {
  const init = await initPicture()
  const common = { prompt: 'a house', steps: 2, width: 64, height: 64, sampler_name: 'Euler' }
  const before = await server.ctx.jobs.counts()
  const rss: number[] = [rssMb()]
  const sampler = setInterval(() => rss.push(rssMb()), 1000)
  const deadline = performance.now() + SECONDS * 1000
  let ok = 0
  let errors = 0
  const latencies: number[] = []
  const client = async (c: number): Promise<void> => {
    for (let i = 0; performance.now() < deadline; i++) {
      const img2img = (c + i) % 2 === 1
      const body = img2img ? { ...common, seed: c * 1000 + i, init_images: [init], denoising_strength: 0.5 } : { ...common, seed: c * 1000 + i }
      const t0 = performance.now()
      try {
        const r = await fetch(`${server.url}/sdapi/v1/${img2img ? 'img2img' : 'txt2img'}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        const answer = (await r.json()) as { images?: string[] }
        if (r.status === 200 && answer.images?.length === 1) ok++
        else errors++
      } catch {
        errors++
      }
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))
  clearInterval(sampler)
  rss.push(rssMb())
  const after = await server.ctx.jobs.counts()
  const delta = (k: keyof typeof after): number => after[k] - before[k]
  const accepted = delta('done') + delta('failed') + delta('cancelled') + delta('queued') + delta('running')
  return [
    {
      measure: `${CLIENTS} concurrent clients for ${SECONDS} s (blocking txt2img + img2img, 64², 2 steps)`,
      value: `${ok} answered, ${errors} errors`,
      note: `jobs accepted ${accepted}: done ${delta('done')}, failed ${delta('failed')}, left queued/running ${after.queued}/${after.running}; request p50 / p99 ${pct(latencies, 0.5).toFixed(0)} / ${pct(latencies, 0.99).toFixed(0)} ms (queueing behind ${CLIENTS - 1} others)`,
    },
    {
      measure: `RSS under ${CLIENTS} clients (server + in-process Engine)`,
      value: `peak ${Math.max(...rss).toFixed(0)} MB`,
      note: `start ${rss[0].toFixed(0)} MB, end ${rss.at(-1)!.toFixed(0)} MB, ${rss.length} samples (1 s)`,
    },
  ]
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
        const job = { prompt: 'a house', steps: 3, width: 64, height: 64, seed: 1, sampler_name: 'Euler' }
        const warm = await firstStep(server, '/sdloom/v1/jobs', JSON.stringify(job))
        rows.push({ measure: 'request → first sampling step, warm model (tiny SD1, 64², Euler)', value: `${Math.min(...warm).toFixed(0)}–${Math.max(...warm).toFixed(0)} ms`,
          note: '3 runs after a warm-up job; includes the job row commit, the text encoder and one UNet step (in-process Engine)' })
        const i2i = await firstStep(server, '/sdapi/v1/img2img', JSON.stringify({ ...job, init_images: [await initPicture()], denoising_strength: 0.5, steps: 4 }))
        rows.push({ measure: 'img2img request → first sampling step, warm model (96×64 PNG → 64², denoise 0.5)', value: `${Math.min(...i2i).toFixed(0)}–${Math.max(...i2i).toFixed(0)} ms`,
          note: '3 runs after a warm-up; adds decoding the picture twice (accept, run) and the VAE encoder' })
        rows.push(...await concurrentClients(server))
      } finally {
        await server.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    return rows
  },
}
