/** Runs one fuzz target inside a worker thread for run.ts; counts each case in shared memory for the watchdog. */
import { parentPort, workerData } from 'node:worker_threads'
import fc from 'fast-check'
import { TARGETS } from './targets/index.ts'
import { fuzzProperty, type FuzzStats } from './harness.ts'

export interface WorkerJob { readonly name: string; readonly runs: number; readonly seed: number; readonly slack: number; readonly counter: SharedArrayBuffer }
export type WorkerReport =
  | { readonly kind: 'progress'; readonly stats: FuzzStats }
  | { readonly kind: 'done'; readonly stats: FuzzStats; readonly finding?: string; readonly path?: string }

// Stack traces are most of the cost of a refused case; a finding is replayed from its seed and path for its stack.
Error.stackTraceLimit = 0
const job = workerData as WorkerJob
const counter = new Int32Array(job.counter)
const stats: FuzzStats = { runs: 0, parsed: 0, refused: 0 }
const post = (r: WorkerReport): void => parentPort?.postMessage(r)
const property = (await fuzzProperty(TARGETS[job.name], stats, job.slack)).afterEach(() => {
  Atomics.store(counter, 0, stats.runs)
  if (stats.runs % 20_000 === 0) post({ kind: 'progress', stats: { ...stats } })
})
Atomics.store(counter, 1, 1)
// No shrinking: a slow case re-run hundreds of times would stall the campaign; the finding prints its input.
const result = await fc.check(property, { numRuns: job.runs, seed: job.seed, endOnFailure: true })
post(result.failed
  ? { kind: 'done', stats, finding: String((result.errorInstance as Error)?.message ?? result.errorInstance), path: result.counterexamplePath ?? undefined }
  : { kind: 'done', stats })
