/**
 * `npm run bench server`: the model library and the metadata routes with 1,000 files (symlinks to the reference
 * LoRAs and checkpoint, copies of an embedding, so inspect reads real headers): a cold scan, an incremental one with nothing
 * changed and one with 10 files touched; p50/p99 latency of sd-models and loras over loopback. Engine: the scripted
 * test double (no model runs in this section).
 */
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchRow, BenchSection } from '../section.ts'
import { ref } from '../../test/golden.ts'
import { openDatabase } from '../../src/jobs/sqlite.ts'
import { Library } from '../../src/library/library.ts'
import { startServer } from '../../src/server/start.ts'
import { scriptedEngine } from '../../test/e2e/server-helpers.ts'

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
      const server = await startServer({ dataDir: join(dir, 'data'), modelRoots: [root], port: 0, watch: false, createEngine: () => scriptedEngine() })
      try {
        for (const route of ['sd-models', 'loras']) {
          await latency(`${server.url}/sdapi/v1/${route}`, 20)
          const xs = await latency(`${server.url}/sdapi/v1/${route}`, 200)
          const count = ((await (await fetch(`${server.url}/sdapi/v1/${route}`)).json()) as unknown[]).length
          rows.push({ measure: `GET /sdapi/v1/${route} (${count} items), p50 / p99`, value: `${pct(xs, 0.5).toFixed(1)} / ${pct(xs, 0.99).toFixed(1)} ms`, note: '200 sequential requests over loopback' })
        }
      } finally {
        await server.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    return rows
  },
}
