/*
 * EngineClient (the Engine in a worker thread) on the tiny SD1 model: the same images as the in-process Engine, the
 * caller's event loop live during sampling (a 10 ms interval never waits more than 20 ms), an abort mid-sampling
 * stopping at the next step with the caller's reason, and errors crossing the boundary with their class, code and
 * field-named issues.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EngineClient } from '../../src/engine/client.ts'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { EngineEvent, GenerationRequest } from '../../src/engine/contract.ts'
import { InputError } from '../../src/core/errors.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'

const REQ: GenerationRequest = {
  mode: 'txt2img', model: ref('sd1', 'tiny-sd1.safetensors'), prompt: 'a photo of a cat', negativePrompt: 'blurry',
  sampler: 'Euler a', steps: 6, cfgScale: 7, seed: 3, rng: 'cpu', width: 128, height: 128,
}

test('worker client: same image as in process; the event loop stays live; abort at the next step; typed errors', async () => {
  const client = new EngineClient({ resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false, threads: 1 })
  // one onnxruntime thread on both sides: sums split across threads round differently (a byte here and there)
  const local = new Engine({ resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false, loader: (s, o) => loadModel(s.file, { ...o, threads: 1 }) })
  try {
    const expected = (await local.generate(REQ)).images[0]
    await local.close()
    // The event loop while the worker samples: every gap between ticks of a 10 ms interval. On a quiet machine every
    // gap is within 20 ms; on a loaded CI machine (2 cores, load 16 when this was written) the OS scheduler adds its
    // own delays (measured there: median 12 ms, 9 in 10 within 23 ms, the longest 117 ms), so the test asserts that
    // the median gap is within 20 ms and that 9 gaps in 10 are shorter than a sampling step (in process, one step
    // blocks the loop for its whole length, so nearly every gap is a step long). The longest gap is not asserted: one
    // scheduler stall on a loaded machine outlasted a 41 ms step in CI. Quiet-machine figures: BENCHMARKS.md.
    const gaps: number[] = []
    const stepTimes: number[] = []
    let last = performance.now()
    let sampling = false
    const timer = setInterval(() => { const now = performance.now(); if (sampling) gaps.push(now - last); last = now }, 10)
    const events: EngineEvent[] = []
    let stepStart = 0
    const result = await client.generate(REQ, {
      onEvent: (e) => {
        events.push(e)
        if (e.type === 'phase' && e.phase === 'sample') { sampling = true; last = performance.now() }
        if (e.type === 'step') { if (e.step > 1) stepTimes.push(performance.now() - stepStart); stepStart = performance.now() }
        if (e.type === 'phase' && e.phase === 'decode') sampling = false
      },
    })
    clearInterval(timer)
    assert.deepEqual(result.images[0].rgb, expected.rgb)
    assert.equal(result.images[0].infotext, expected.infotext)
    assert.equal(events.filter((e) => e.type === 'step').length, 6)
    gaps.sort((a, b) => a - b)
    stepTimes.sort((a, b) => a - b)
    const median = gaps[gaps.length >> 1]
    const stepMs = stepTimes[stepTimes.length >> 1]
    assert.ok(gaps.length > 20 && median <= 20, `median gap between 10 ms ticks ${median.toFixed(1)} ms (${gaps.length} ticks)`)
    const p90 = gaps[Math.floor(gaps.length * 0.9)]
    assert.ok(p90 < stepMs, `9 in 10 gaps within ${p90.toFixed(1)} ms against a ${stepMs.toFixed(0)} ms step (longest ${gaps.at(-1)!.toFixed(1)} ms)`)

    const controller = new AbortController()
    const reason = new Error('user stop')
    const steps: number[] = []
    await assert.rejects(client.generate({ ...REQ, steps: 30 }, {
      signal: controller.signal, onEvent: (e) => { if (e.type === 'step') { steps.push(e.step); if (e.step === 2) controller.abort(reason) } },
    }), (e) => e === reason)
    assert.ok(steps.length <= 4, `stopped after step ${steps.at(-1)} of 30`)

    await assert.rejects(client.generate({ ...REQ, steps: 0 }), (e) => e instanceof InputError
      && e.issues[0].path[0] === 'steps' && e.message === 'steps must be a whole number from 1 to 1000, got 0')
    await assert.rejects(client.generate({ ...REQ, model: ref('sd1', 'adapters', 'tinylora.safetensors') }), {
      name: 'ModelMismatchError', code: 'model-mismatch',
      message: 'tinylora.safetensors: is a LoRA (SD1.x), not a checkpoint. Hint: pass it with --lora FILE and a checkpoint with --model.',
    })
    assert.equal((await client.loadedModels()).length, 1)
  } finally {
    await client.close()
  }
})
