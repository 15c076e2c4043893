import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cfgNotice, clipSkipNotice } from './generate-notices.ts'
import { oneLine } from './main.ts'

test('CFG inside A1111\'s UI range (1–30) runs quietly; outside it runs with one note', () => {
  for (const cfg of [undefined, 1, 7, 30]) assert.equal(cfgNotice(cfg), undefined)
  assert.match(cfgNotice(0) ?? '', /^note: --cfg 0 is below A1111's UI minimum of 1 \(its API accepts it, so sdloom does\): at 0 the prompt is ignored/)
  assert.match(cfgNotice(-3) ?? '', /^note: --cfg -3 is below/)
  assert.match(cfgNotice(31) ?? '', /^note: --cfg 31 is above A1111's UI maximum of 30/)
})

test('--clip-skip on SD2/SDXL: a note (no effect, as A1111 1.10); on SD1 or at 1: nothing', () => {
  assert.equal(clipSkipNotice('sd1', 2), undefined)
  assert.equal(clipSkipNotice('sdxl', 1), undefined)
  assert.equal(clipSkipNotice('sdxl', undefined), undefined)
  assert.match(clipSkipNotice('sdxl', 2) ?? '', /^note: --clip-skip 2 has no effect on SDXL checkpoints/)
  assert.match(clipSkipNotice('sd2', 3) ?? '', /^note: --clip-skip 3 has no effect on SD2\.x checkpoints/)
})

test('an unexpected error is reported in one line; onnxruntime\'s are named', () => {
  const ort = 'Non-zero status code returned while running MatMul node. Name:\'/m\' Status Message: bfc_arena.cc:376 Failed to allocate memory\nStacktrace:\n  at x'
  assert.equal(oneLine(ort), 'onnxruntime: Non-zero status code returned while running MatMul node. Name:\'/m\' Status Message: bfc_arena.cc:376 Failed to allocate memory')
  assert.equal(oneLine('first\nsecond'), 'first')
  assert.equal(oneLine('x'.repeat(400)).length, 300)
  assert.equal(oneLine('\n'), 'unknown error')
})
