/*
 * The Engine (src/engine): cold load vs cache hit, time from request to the first sampling step on a warm model,
 * and what the worker thread (EngineClient) adds per step over the in-process Engine. Measured on the tiny SD1
 * checkpoint of the reference set, whose steps take milliseconds: the worker's cost is per message (a step event,
 * structured-cloned), not per FLOP, so its absolute cost per step here is what an SD1.5 512² step pays too; the note
 * gives it as a share of that step's time (BENCHMARKS.md "txt2img", 8.9 s per CFG step).
 */
import { Engine } from '../../src/engine/engine.ts'
import { EngineClient } from '../../src/engine/client.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { EngineApi, GenerationRequest } from '../../src/engine/contract.ts'
import { TOKENIZER_DIR, ref } from '../../test/golden.ts'
import type { BenchRow, BenchSection } from '../section.ts'

const SD15_STEP_S = 8.9
const REQ: GenerationRequest = { mode: 'txt2img', model: ref('sd1', 'tiny-sd1.safetensors'), prompt: 'a photo of a cat', seed: 1, steps: 30, width: 64, height: 64 }

/** Seconds to the first step event, and the mean seconds per step after it. */
async function timeRun(engine: EngineApi, req: GenerationRequest): Promise<{ total: number; toFirstStep: number; perStep: number }> {
  const t0 = performance.now()
  let first = 0
  let last = 0
  await engine.generate(req, { onEvent: (e) => { if (e.type === 'step') { if (e.step === 1) first = performance.now(); last = performance.now() } } })
  return { total: (performance.now() - t0) / 1000, toFirstStep: (first - t0) / 1000, perStep: (last - first) / 1000 / ((req.steps ?? 20) - 1) }
}

export const section: BenchSection = {
  title: 'Engine: model cache, warm requests, worker-thread overhead (tiny SD1, 64², 30 steps)',
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = []
    const engine = new Engine({ resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false })
    const cold = await timeRun(engine, REQ)
    const warm = await timeRun(engine, { ...REQ, seed: 2 })
    const warmNewPrompt = await timeRun(engine, { ...REQ, seed: 3, prompt: 'a watercolor of a lighthouse' })
    rows.push({ measure: 'cold request: load + sessions + encode to the first step', value: `${cold.toFirstStep.toFixed(2)} s` })
    rows.push({ measure: 'warm model, same prompt (cache hit, conditioning cached): request to the first step', value: `${warm.toFirstStep.toFixed(3)} s`, note: 'target ≤ 0.2 s' })
    rows.push({ measure: 'warm model, new prompt: request to the first step', value: `${warmNewPrompt.toFirstStep.toFixed(3)} s`, note: 'includes text encoding' })
    await engine.close()
    const client = new EngineClient({ resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false })
    await timeRun(client, REQ) // load + warm-up in the worker
    const local = new Engine({ resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false })
    await timeRun(local, REQ)
    const inWorker: number[] = []
    const inProcess: number[] = []
    for (let i = 0; i < 3; i++) {
      inWorker.push((await timeRun(client, { ...REQ, seed: 10 + i })).perStep)
      inProcess.push((await timeRun(local, { ...REQ, seed: 10 + i })).perStep)
    }
    const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]
    const extra = median(inWorker) - median(inProcess)
    rows.push({ measure: 'per step, in process (median of 3 runs)', value: `${(median(inProcess) * 1000).toFixed(2)} ms` })
    rows.push({ measure: 'per step, worker thread (median of 3 runs)', value: `${(median(inWorker) * 1000).toFixed(2)} ms` })
    rows.push({ measure: 'worker overhead per step', value: `${(extra * 1000).toFixed(2)} ms`, note: `${(100 * Math.max(0, extra) / SD15_STEP_S).toFixed(3)} % of an SD1.5 512² step (${SD15_STEP_S} s); target ≤ 1 %` })
    await client.close()
    await local.close()
    return rows
  },
}
