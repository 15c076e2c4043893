import { test } from 'node:test'
import assert from 'node:assert/strict'
import { engineProgress } from './engine-progress.ts'
import type { PhaseProgress } from './phase-progress.ts'

/** A PhaseProgress that records its calls, and the warning lines, in one list. */
function recording(): { calls: string[]; progress: PhaseProgress; warn: (l: string) => void } {
  const calls: string[] = []
  return {
    calls,
    progress: {
      phase: (name, detail) => calls.push(`phase ${name}${detail ? ` ${detail}` : ''}`),
      step: (s, n) => calls.push(`step ${s}/${n}`),
      bytes: (d, t) => calls.push(`bytes ${d}/${t}`),
      end: () => calls.push('end'),
    },
    warn: (l) => calls.push(`line ${l}`),
  }
}

test('engine events become generate\'s phases and lines: load by file name, LoRA bar only while merging, deferred notes after the model line', () => {
  const { calls, progress, warn } = recording()
  const p = engineProgress(progress, warn)
  p.event({ type: 'phase', phase: 'load', label: '/models/sd15.safetensors' }, 1)
  p.event({ type: 'phase', phase: 'load', done: 3, total: 9 }, 1)
  p.event({ type: 'phase', phase: 'adapters', label: '1 LoRA(s), merge' }, 1)
  p.event({ type: 'phase', phase: 'adapters', done: 1, total: 2 }, 1)
  p.event({ type: 'phase', phase: 'adapters', done: 2, total: 2 }, 1)
  p.event({ type: 'log', message: 'LoRA x (x.safetensors): te 1, unet 1' }, 1)
  p.event({ type: 'warning', message: '3 keys unmatched' }, 1)
  p.later('--preview: no TAESD decoder found')
  p.event({ type: 'log', message: 'sd2.safetensors: v-prediction (metadata)' }, 1)
  p.event({ type: 'phase', phase: 'encode', label: 'batch 1/2' }, 2)
  p.event({ type: 'step', batch: 0, batchCount: 2, step: 1, steps: 4, secondsPerStep: 1, etaSeconds: 7 }, 2)
  p.end()
  assert.deepEqual(calls, [
    'phase load sd15.safetensors', 'step 3/9', 'end', 'phase lora', 'step 1/2', 'step 2/2',
    'line LoRA x (x.safetensors): te 1, unet 1', 'line warning: 3 keys unmatched', 'line sd2.safetensors: v-prediction (metadata)',
    'line --preview: no TAESD decoder found', 'phase encode batch 1/2', 'step 1/4', 'end',
  ])
})

test('a checkpoint hashed on its first use shows a byte bar between the load phase\'s start and its tensors', () => {
  const { calls, progress, warn } = recording()
  const p = engineProgress(progress, warn)
  p.event({ type: 'phase', phase: 'load', label: '/models/sd15.safetensors' }, 1)
  p.event({ type: 'phase', phase: 'hash', label: '/models/sd15.safetensors', done: 4, total: 8 }, 1)
  p.event({ type: 'phase', phase: 'hash', label: '/models/sd15.safetensors', done: 8, total: 8 }, 1)
  p.event({ type: 'phase', phase: 'load', done: 1, total: 9 }, 1)
  p.event({ type: 'phase', phase: 'load', done: 9, total: 9 }, 1)
  p.end()
  assert.deepEqual(calls, ['phase load sd15.safetensors', 'phase hash sd15.safetensors', 'bytes 4/8', 'bytes 8/8', 'phase load sd15.safetensors', 'step 1/9', 'step 9/9', 'end'])
})
