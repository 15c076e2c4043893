/**
 * `npm run bench soak` (issue #17 item 4): the real `sdloom serve` in its own process (real Engine, the tiny SD1
 * checkpoint laid out as an A1111 folder) under SDLOOM_SOAK_CLIENTS concurrent loopback clients (default 32) for
 * SDLOOM_SOAK_SECONDS (default 600). Each client loops over a mix as A1111 front-ends send it: a blocking txt2img
 * (1 in 5), progress polling (2 in 5) and the list endpoints (2 in 5). Reported: requests and errors per route
 * (any non-2xx or network failure is an error), p50/p99 of the list routes, jobs completed, and the server's RSS
 * sampled from /proc every 5 s, with the slope after a one-minute warm-up (a leak shows as a steady climb).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { REPO_ROOT, TOKENIZER_DIR } from '../../test/golden.ts'
import { makeA1111Root } from '../../test/fixtures/server-a1111-root.ts'
import type { BenchRow, BenchSection } from '../section.ts'

const CLIENTS = Number(process.env.SDLOOM_SOAK_CLIENTS ?? 32)
const SECONDS = Number(process.env.SDLOOM_SOAK_SECONDS ?? 600)
const WARMUP_S = Math.min(60, SECONDS / 4)
const LISTS = ['sd-models', 'loras', 'embeddings', 'samplers', 'options', 'sd-vae', 'schedulers']

const pct = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

async function rssMbOf(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

/** `sdloom serve` on a free loopback port; resolves with its URL and pid once it listens. */
async function startServe(dir: string, root: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'serve', '--json',
    '--models', root, '--data', join(dir, 'data'), '--port', '0', '--tokenizer', TOKENIZER_DIR, '--max-queue', String(CLIENTS * 2)],
  { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sdloom serve exited with ${code} before listening`)))
    lines.on('line', (l) => { try { resolve((JSON.parse(l) as { url: string }).url) } catch { /* not the JSON line */ } })
  })
  const stop = (): Promise<void> => new Promise((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM') })
  return { url, pid: child.pid!, stop }
}

interface Tally { ok: number; errors: number; ms: number[]; firstError?: string }

async function client(url: string, id: number, until: number, tallies: Map<string, Tally>): Promise<void> {
  let k = id
  while (performance.now() < until) {
    const pick = k++ % 5
    const route = pick === 0 ? 'txt2img' : pick <= 2 ? 'progress' : LISTS[(k * 7 + id) % LISTS.length]
    const tally = tallies.get(route) ?? { ok: 0, errors: 0, ms: [] }
    tallies.set(route, tally)
    const t0 = performance.now()
    try {
      const res = route === 'txt2img'
        ? await fetch(`${url}/sdapi/v1/txt2img`, { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: `soak ${id} <lora:tinylora:0.5>`, negative_prompt: 'tinyneg', steps: 3, width: 64, height: 64, seed: k, sampler_name: 'Euler a' }) })
        : await fetch(`${url}/sdapi/v1/${route}`)
      await res.arrayBuffer()
      if (res.ok) tally.ok++
      else { tally.errors++; tally.firstError ??= `HTTP ${res.status}` }
    } catch (e) {
      tally.errors++
      tally.firstError ??= (e as Error).message
    }
    tally.ms.push(performance.now() - t0)
    if (route === 'progress') await new Promise((r) => setTimeout(r, 100)) // a poller's pace, as A1111 clients poll
  }
}

export const section: BenchSection = {
  title: `Soak: ${CLIENTS} clients × ${SECONDS} s against \`sdloom serve\` (real engine, tiny SD1)`,
  async run(): Promise<BenchRow[]> {
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-soak-'))
    const root = join(dir, 'a1111')
    await makeA1111Root(root)
    const server = await startServe(dir, root)
    const samples: [number, number][] = []
    const t0 = performance.now()
    const sampler = setInterval(() => { void rssMbOf(server.pid).then((mb) => samples.push([(performance.now() - t0) / 1000, mb])) }, 5000)
    const tallies = new Map<string, Tally>()
    try {
      const until = t0 + SECONDS * 1000
      await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(server.url, i, until, tallies)))
    } finally {
      clearInterval(sampler)
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
    const rows: BenchRow[] = []
    const all = [...tallies.values()]
    const errors = all.reduce((s, t) => s + t.errors, 0)
    rows.push({ measure: 'requests / errors', value: `${all.reduce((s, t) => s + t.ok + t.errors, 0)} / ${errors}`,
      note: errors ? [...tallies].filter(([, t]) => t.errors).map(([r, t]) => `${r}: ${t.errors} (${t.firstError})`).join('; ') : 'every request answered 2xx' })
    const gen = tallies.get('txt2img')
    if (gen) rows.push({ measure: 'txt2img jobs completed (64², 3 steps, a LoRA + a negative embedding)', value: String(gen.ok), note: `p50 ${pct(gen.ms, 0.5).toFixed(0)} ms, p99 ${pct(gen.ms, 0.99).toFixed(0)} ms (queueing behind the other clients included)` })
    const prog = tallies.get('progress')
    if (prog) rows.push({ measure: 'GET /sdapi/v1/progress p50 / p99', value: `${pct(prog.ms, 0.5).toFixed(1)} / ${pct(prog.ms, 0.99).toFixed(1)} ms`, note: `${prog.ok} polls` })
    const lists = LISTS.flatMap((r) => tallies.get(r)?.ms ?? [])
    rows.push({ measure: `list endpoints (${LISTS.join(', ')}) p50 / p99`, value: `${pct(lists, 0.5).toFixed(1)} / ${pct(lists, 0.99).toFixed(1)} ms`, note: `${lists.length} requests` })
    const after = samples.filter(([t]) => t >= WARMUP_S)
    const rss = samples.map(([, mb]) => mb)
    if (after.length >= 2) {
      rows.push({ measure: 'server RSS: after warm-up first / last / max', value: `${after[0][1].toFixed(0)} / ${after.at(-1)![1].toFixed(0)} / ${Math.max(...rss).toFixed(0)} MB`,
        note: `${samples.length} samples every 5 s; slope after ${WARMUP_S.toFixed(0)} s: ${(slope(after) * 60).toFixed(2)} MB/min` })
    }
    return rows
  },
}
