/**
 * The fuzz campaign: `npm run fuzz -- --runs N [--target NAME[,NAME…]] [--seed S] [--slack X] [--chunk C] [--until ISO]`.
 * Targets run one after another (the machine is shared), each in a worker thread watched from here: a case that
 * stops the worker for longer than the hang bound is reported with its index and seed, and the worker is stopped.
 * `--slack` multiplies each target's per-case time bound (default 5, for a loaded machine under `nice`).
 * Replay a finding: `npm run fuzz -- --target NAME --seed S --runs 1` after fixing, or read the shrunk input it prints.
 */
import { Worker } from 'node:worker_threads'
import { parseArgs } from 'node:util'
import { TARGETS } from './targets/index.ts'
import type { WorkerJob, WorkerReport } from './worker.ts'
import type { FuzzStats } from './harness.ts'

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '10000' }, target: { type: 'string' }, seed: { type: 'string' }, slack: { type: 'string', default: '5' },
  'hang-seconds': { type: 'string', default: '60' }, chunk: { type: 'string' }, until: { type: 'string' },
} })
const runs = Number(values.runs)
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31
const slack = Number(values.slack)
const hangMs = Number(values['hang-seconds']) * 1000
/** Cases per target per round: targets take turns, so a campaign cut short by --until leaves every target a share. */
const chunk = values.chunk !== undefined ? Number(values.chunk) : runs
/** Wall-clock end (ISO time, e.g. 2026-12-05T01:20Z): no new round starts after it. */
const until = values.until !== undefined ? Date.parse(values.until) : Infinity
const names = values.target ? values.target.split(',') : Object.keys(TARGETS)
for (const n of names) if (!TARGETS[n]) { console.error(`unknown target "${n}"; targets: ${Object.keys(TARGETS).join(', ')}`); process.exit(2) }

interface Result { readonly name: string; readonly stats: FuzzStats; readonly seconds: number; readonly finding?: string }

function runTarget(name: string, runs: number, seed: number): Promise<Result> {
  // [cases done, ready]: the watchdog starts once the worker has loaded its target (startup under `nice` can be slow).
  const counter = new SharedArrayBuffer(8)
  const job: WorkerJob = { name, runs, seed, slack, counter }
  // Node 20 workers do not inherit tsx's loader hooks: the worker registers them before importing the .ts entry.
  const entry = `import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)})`
  const worker = new Worker(entry, { eval: true, workerData: job })
  const t0 = performance.now()
  let last = { runs: 0, at: t0 }
  let stats: FuzzStats = { runs: 0, parsed: 0, refused: 0 }
  return new Promise((resolve, reject) => {
    const seconds = (): number => (performance.now() - t0) / 1000
    const watchdog = setInterval(() => {
      const now = Atomics.load(new Int32Array(counter), 0)
      if (now !== last.runs || Atomics.load(new Int32Array(counter), 1) === 0) { last = { runs: now, at: performance.now() }; return }
      if (performance.now() - last.at < hangMs) return
      clearInterval(watchdog)
      void worker.terminate()
      resolve({ name, stats: { ...stats, runs: now }, seconds: seconds(), finding: `hang: case ${now + 1} (seed ${seed}) ran over ${hangMs / 1000} s` })
    }, 1000)
    worker.on('message', (r: WorkerReport) => {
      stats = r.stats
      if (r.kind === 'progress') { process.stdout.write(`  ${name}: ${r.stats.runs} cases, ${seconds().toFixed(0)} s\n`); return }
      clearInterval(watchdog)
      resolve({ name, stats: r.stats, seconds: seconds(), finding: r.finding && `${r.finding}${r.path ? ` [path ${r.path}]` : ''}` })
    })
    worker.on('error', (e) => { clearInterval(watchdog); reject(e) })
  })
}

console.log(`fuzz: ${runs} cases per target in rounds of ${chunk}, seed ${seed}, time bound ×${slack}: ${names.join(', ')}`)
const totals = new Map(names.map((n) => [n, { runs: 0, parsed: 0, refused: 0, seconds: 0, findings: [] as string[] }]))
for (let round = 0; names.some((n) => totals.get(n)!.runs < runs) && Date.now() < until; round++) {
  for (const name of names) {
    const t = totals.get(name)!
    if (t.runs >= runs || Date.now() >= until) continue
    // Each round uses its own seed, so rounds explore different cases; a finding names the seed to replay it with.
    const r = await runTarget(name, Math.min(chunk, runs - t.runs), seed + round)
    Object.assign(t, { runs: t.runs + r.stats.runs, parsed: t.parsed + r.stats.parsed, refused: t.refused + r.stats.refused, seconds: t.seconds + r.seconds })
    if (r.finding) t.findings.push(`seed ${seed + round}: ${r.finding}`)
    console.log(`${name} round ${round}: ${r.stats.runs} cases in ${r.seconds.toFixed(0)} s${r.finding ? `: FINDING ${r.finding}` : ''} (total ${t.runs})`)
  }
}
console.log('\nsummary (target: cases, parsed, refused, seconds, findings)')
for (const [name, t] of totals) console.log(`${name}: ${t.runs}, ${t.parsed}, ${t.refused}, ${t.seconds.toFixed(0)} s, ${t.findings.length ? t.findings.join(' | ') : 'none'}`)
process.exit([...totals.values()].some((t) => t.findings.length) ? 1 : 0)
