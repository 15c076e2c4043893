/*
 * The Engine (src/engine): cold load (hash + read) vs cache hit, time from request to the first sampling step on a
 * warm model, what the worker thread (EngineClient) adds per step over the in-process Engine (wall and CPU seconds:
 * process.cpuUsage counts every thread, the worker's and onnxruntime's), the caller's event-loop lag while the worker
 * samples, and how soon an aborted job stops. Measured on the tiny SD1 checkpoint of the reference set, with one
 * onnxruntime thread (no spinning threads in the CPU figures): the worker's cost is per message (a step event,
 * structured-cloned), not per FLOP, so its absolute cost per step is what an SD1.5 512² step pays too; the note gives
 * it as a share of that step's time (BENCHMARKS.md "txt2img", 8.9 s per CFG step).
 * SDLOOM_BENCH_SDXL=1 adds how soon an SDXL 1024² job stops (random full-size SDXL checkpoint written as fp16 to a
 * temp folder, ~7 GB on disk and ~11 GB in memory; a few minutes: the worker finishes the UNet call it is in).
 */
import { Engine } from '../../src/engine/engine.ts'
import { EngineClient } from '../../src/engine/client.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { EngineApi, GenerationRequest } from '../../src/engine/contract.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { TOKENIZER_DIR, ref } from '../../test/golden.ts'
import type { BenchRow, BenchSection } from '../section.ts'
import { SDXL_CASE } from '../txt2img-cases.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const SD15_STEP_S = 8.9
const MODEL = ref('sd1', 'tiny-sd1.safetensors')
const REQ: GenerationRequest = { mode: 'txt2img', model: MODEL, prompt: 'a photo of a cat', seed: 1, steps: 30, width: 64, height: 64 }

const cpuSeconds = (): number => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6 }
const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]
const ms = (s: number, digits = 2): string => `${(s * 1000).toFixed(digits)} ms`

interface Run { total: number; toFirstStep: number; perStep: number; cpuPerStep: number }

/** Seconds to the first step event, and the mean wall and CPU seconds per step after it. */
async function timeRun(engine: EngineApi, req: GenerationRequest): Promise<Run> {
  const t0 = performance.now()
  let first = 0
  let last = 0
  let cpuFirst = 0
  let cpuLast = 0
  await engine.generate(req, {
    onEvent: (e) => {
      if (e.type !== 'step') return
      if (e.step === 1) { first = performance.now(); cpuFirst = cpuSeconds() }
      last = performance.now()
      cpuLast = cpuSeconds()
    },
  })
  const n = (req.steps ?? 20) - 1
  return { total: (performance.now() - t0) / 1000, toFirstStep: (first - t0) / 1000, perStep: (last - first) / 1000 / n, cpuPerStep: (cpuLast - cpuFirst) / n }
}

/** Gaps between ticks of a 10 ms interval while `engine` samples one request. */
async function loopGaps(engine: EngineApi, req: GenerationRequest): Promise<number[]> {
  const gaps: number[] = []
  let sampling = false
  let last = performance.now()
  const timer = setInterval(() => { const now = performance.now(); if (sampling) gaps.push(now - last); last = now }, 10)
  try {
    await engine.generate(req, {
      onEvent: (e) => {
        if (e.type === 'phase' && e.phase === 'sample') { sampling = true; last = performance.now() }
        if (e.type === 'phase' && e.phase === 'decode') sampling = false
      },
    })
  } finally {
    clearInterval(timer)
  }
  return gaps.sort((a, b) => a - b)
}

/** Milliseconds from abort() (at step `at`) to the rejected promise, and the median step before it. */
async function cancelLatency(engine: EngineApi, req: GenerationRequest, at = 3): Promise<{ stopMs: number; stepMs: number; steps: number }> {
  const controller = new AbortController()
  const stepTimes: number[] = []
  let lastStep = performance.now()
  let abortedAt = 0
  let steps = 0
  try {
    await engine.generate(req, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== 'step') return
        const now = performance.now()
        if (e.step > 1) stepTimes.push(now - lastStep)
        lastStep = now
        steps = e.step
        if (e.step === at) { abortedAt = performance.now(); controller.abort(new Error('bench stop')) }
      },
    })
  } catch { /* the abort */ }
  return { stopMs: performance.now() - abortedAt, stepMs: median(stepTimes), steps }
}

export const section: BenchSection = {
  title: 'Engine: model cache, warm requests, worker-thread overhead, event loop, cancellation (tiny SD1, 1 onnxruntime thread)',
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = []
    const resolver = fileResolver()
    const loader = (spec: { file: string }, opts: { onProgress?: (d: number, t: number) => void }) => loadModel(spec.file, { ...opts, threads: 1 })

    // cold load vs cache hit, through the cache itself
    const cache = new Engine({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false, loader }).cache
    let t = performance.now(); let c = cpuSeconds()
    await cache.ids.sha256(MODEL, 'model')
    rows.push({ measure: 'identity: SHA-256 of the checkpoint (17.8 MB), cold', value: ms((performance.now() - t) / 1000), note: `${ms(cpuSeconds() - c)} CPU; ~1.1 CPU s/GiB (docs/decisions.md)` })
    t = performance.now(); c = cpuSeconds()
    const handle = await cache.acquire({ file: MODEL })
    rows.push({ measure: 'cold load (identity known): read + identify', value: ms((performance.now() - t) / 1000), note: `${ms(cpuSeconds() - c)} CPU` })
    cache.release(handle)
    t = performance.now(); c = cpuSeconds()
    cache.release(await cache.acquire({ file: MODEL }))
    rows.push({ measure: 'cache hit (stat + realpath, hash known)', value: ms((performance.now() - t) / 1000, 3), note: `${ms(cpuSeconds() - c, 3)} CPU` })
    await cache.unload()

    const engine = new Engine({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false, loader })
    const cold = await timeRun(engine, REQ)
    const warm = await timeRun(engine, { ...REQ, seed: 2 })
    const warmNewPrompt = await timeRun(engine, { ...REQ, seed: 3, prompt: 'a watercolor of a lighthouse' })
    rows.push({ measure: 'cold request (64²): hash + load + sessions + encode to the first step', value: `${cold.toFirstStep.toFixed(2)} s` })
    rows.push({ measure: 'warm model, same prompt (conditioning cached): request to the first step', value: `${warm.toFirstStep.toFixed(3)} s`, note: 'target ≤ 0.2 s; includes one UNet step' })
    rows.push({ measure: 'warm model, new prompt: request to the first step', value: `${warmNewPrompt.toFirstStep.toFixed(3)} s`, note: 'includes text encoding' })

    const client = new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false, threads: 1 })
    await timeRun(client, REQ) // load + warm-up in the worker
    for (const size of [64, 256]) {
      const inWorker: Run[] = []
      const inProcess: Run[] = []
      for (let i = 0; i < 3; i++) {
        inWorker.push(await timeRun(client, { ...REQ, width: size, height: size, steps: 20, seed: 10 + i }))
        inProcess.push(await timeRun(engine, { ...REQ, width: size, height: size, steps: 20, seed: 10 + i }))
      }
      const wall = median(inWorker.map((r) => r.perStep)) - median(inProcess.map((r) => r.perStep))
      const cpu = median(inWorker.map((r) => r.cpuPerStep)) - median(inProcess.map((r) => r.cpuPerStep))
      rows.push({ measure: `${size}²: per step in process / in the worker (median of 3 runs × 19 steps)`, value: `${ms(median(inProcess.map((r) => r.perStep)))} / ${ms(median(inWorker.map((r) => r.perStep)))}`, note: `CPU ${ms(median(inProcess.map((r) => r.cpuPerStep)))} / ${ms(median(inWorker.map((r) => r.cpuPerStep)))}` })
      rows.push({ measure: `${size}²: worker overhead per step`, value: `${ms(wall)} wall, ${ms(cpu)} CPU`, note: `${(100 * Math.max(0, wall) / SD15_STEP_S).toFixed(3)} % (wall) of an SD1.5 512² step (${SD15_STEP_S} s); target ≤ 1 %` })
    }

    const loopReq: GenerationRequest = { ...REQ, width: 128, height: 128, steps: 10 }
    for (const [label, e] of [['worker thread', client], ['in process', engine]] as const) {
      const gaps = await loopGaps(e, loopReq)
      rows.push({ measure: `event loop during sampling (${label}, 128²): gaps of a 10 ms interval`, value: `max ${gaps.at(-1)!.toFixed(1)} ms`, note: `median ${median(gaps).toFixed(1)} ms, 9 in 10 within ${gaps[Math.floor(gaps.length * 0.9)].toFixed(1)} ms, ${gaps.length} ticks; target max ≤ 20 ms` })
    }

    const longReq: GenerationRequest = { ...REQ, width: 512, height: 512, steps: 200, seed: 4 }
    for (const [label, e] of [['worker thread', client], ['in process', engine]] as const) {
      const r = await cancelLatency(e, longReq)
      rows.push({ measure: `abort at step 3 of 200 (${label}, 512²): abort → rejected`, value: `${r.stopMs.toFixed(0)} ms`, note: `a step takes ${r.stepMs.toFixed(0)} ms; stopped after step ${r.steps}` })
    }
    await client.close()
    await engine.close()
    if (process.env.SDLOOM_BENCH_SDXL) rows.push(await sdxlStop(resolver))
    return rows
  },
}

/** Abort an SDXL 1024² job in the worker (onnxruntime's default threads) after its second step. */
async function sdxlStop(resolver: ReturnType<typeof fileResolver>): Promise<BenchRow> {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-sdxl-'))
  const client = new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false })
  try {
    const file = join(dir, 'sdxl.safetensors')
    await SDXL_CASE.write(file, 'F16')
    const req: GenerationRequest = { ...REQ, model: file, width: 1024, height: 1024, steps: 20, seed: 5 }
    const r = await cancelLatency(client, req, 2)
    return { measure: 'abort after step 2 of 20 (worker thread, SDXL 1024², CFG 7): abort → rejected', value: `${(r.stopMs / 1000).toFixed(1)} s`, note: `a CFG step takes ${(r.stepMs / 1000).toFixed(1)} s; stopped after step ${r.steps}: the UNet call in flight finishes (onnxruntime-node cannot interrupt a run)` }
  } finally {
    await client.close()
    await rm(dir, { recursive: true, force: true })
  }
}
