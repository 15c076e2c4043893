import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { paramPairs } from './infotext-params.ts'

/** A1111's re_param as a regex: the oracle (quadratic, so only short lines are compared). */
const RE_PARAM = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/gu
const oracle = (line: string): [string, string][] => [...line.matchAll(RE_PARAM)].map((m) => [m[1], m[2]])

const PIECES = ['Steps', ': ', ':', ',', ', ', ' ', '"', '\\', '\\"', 'a b', '-', '/', '_', 'x', '東', '𝐀', '😀', '\ud800', '\udc00', '\u2028', '\r', '\t', '\u00a0', '1.5', 'Size: 512x512']

test('paramPairs finds exactly what re_param finds (random lines)', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 3, unit: 'binary' })), { maxLength: 30 }).map((a) => a.join('')),
    (line) => { assert.deepEqual(paramPairs(line), oracle(line), JSON.stringify(line)) }), { numRuns: 3000, seed: 5 })
})

test('a long line of words without a colon is linear (was 16 s for 4,000 characters)', () => {
  const line = 'AND '.repeat(50_000)
  const t0 = performance.now()
  assert.deepEqual(paramPairs(line), [])
  assert.ok(performance.now() - t0 < 1000, `${(performance.now() - t0).toFixed(0)} ms`)
})
