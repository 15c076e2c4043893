import { test } from 'node:test'
import assert from 'node:assert/strict'
import { phaseProgress } from './phase-progress.ts'

/** A stderr stand-in that records what is written, with a clock the test moves. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = ''
  const stream = { isTTY, write: (s: string) => { out += s; return true } } as unknown as NodeJS.WriteStream
  return { stream, text: () => out }
}

test('not a TTY: one line per phase, and the sampling summary counts the first step (10 s steps show 10.00 s/it)', () => {
  let t = 0
  const { stream, text } = fakeStream(false)
  const p = phaseProgress({ json: false, stream, now: () => t })
  p.phase('encode')
  t += 3000
  p.phase('sample')
  for (let s = 1; s <= 2; s++) { t += 10_000; p.step(s, 2) }
  p.phase('decode')
  p.end()
  assert.equal(text(), 'phase: encode\nphase: sample\nsampling 2/2 [####################] 10.00 s/it ETA 0:00\nphase: decode\n')
})

test('--json: phase and step events, one JSON object per line; s/it from the start of sampling', () => {
  let t = 0
  const { stream, text } = fakeStream(true)
  const p = phaseProgress({ json: true, stream, now: () => t })
  p.phase('load', 'm.safetensors')
  p.step(10, 10) // tensors: no events
  p.phase('sample', 'batch 1/2')
  t += 12_000
  p.step(1, 3)
  t += 8000
  p.step(2, 3)
  p.end()
  assert.deepEqual(text().trim().split('\n').map((l) => JSON.parse(l) as unknown), [
    { event: 'phase', phase: 'load', detail: 'm.safetensors' },
    { event: 'phase', phase: 'sample', detail: 'batch 1/2' },
    { event: 'step', step: 1, steps: 3, secondsPerStep: 12 },
    { event: 'step', step: 2, steps: 3, secondsPerStep: 10 },
  ])
})

test('a second pass counting from 1 again is timed from the last step of the first', () => {
  let t = 0
  const { stream, text } = fakeStream(true)
  const p = phaseProgress({ json: true, stream, now: () => t })
  p.phase('sample')
  t += 2000
  p.step(1, 1)
  t += 6000
  p.step(1, 2)
  assert.equal((JSON.parse(text().trim().split('\n').at(-1) ?? '') as { secondsPerStep: number }).secondsPerStep, 6)
})

test('on a TTY: a spinner with the seconds spent, rewritten in place, and a final line per phase', () => {
  let t = 0
  const { stream, text } = fakeStream(true)
  const p = phaseProgress({ json: false, stream, now: () => t })
  p.phase('decode')
  t += 2500
  p.end()
  assert.equal(text(), '\r⠋ decoding 0 s\x1b[K\rdecoding 2.5 s\x1b[K\n')
})
