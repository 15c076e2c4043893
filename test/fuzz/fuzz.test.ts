/**
 * The fuzz targets in CI: a bounded number of cases per target (a few seconds each) with a fixed seed, so a failure
 * here reproduces. The ≥ 1,000,000-case campaign is `npm run fuzz -- --runs 1000000` (RELIABILITY.md records it).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TARGETS } from './targets/index.ts'
import { fuzzProperty, type FuzzStats } from './harness.ts'

const CASES = 300
const SECONDS = 4

for (const [name, target] of Object.entries(TARGETS)) {
  test(`fuzz ${name}: every case is parsed or refused with one SdError, in bounded time and memory`, async () => {
    const stats: FuzzStats = { runs: 0, parsed: 0, refused: 0 }
    // The time bound is relaxed ×5 here: CI shares two cores with other test files.
    await fc.assert(await fuzzProperty(target, stats, 5), { numRuns: CASES, seed: 17, interruptAfterTimeLimit: SECONDS * 1000 })
    assert.ok(stats.runs >= 30, `only ${stats.runs} cases ran in ${SECONDS} s`)
    assert.ok(stats.parsed > 0, `no case of ${stats.runs} parsed: the generators no longer reach the parser's success path`)
  })
}
