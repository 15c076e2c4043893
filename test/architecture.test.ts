/*
 * House rules that a reader should not have to police by hand (style.md §2.1, §2.7):
 * imports point one way down the layers, and source files stay under 500 lines.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { REPO_ROOT } from './golden.ts'

/** Layer rank: a file may import its own folder and folders of a lower or equal rank (never a higher one). */
const RANK: Record<string, number> = {
  core: 0, formats: 1, graph: 2, nn: 3, models: 4, adapters: 5, prompt: 6, sampling: 6, image: 6,
  tools: 7, pipeline: 8, library: 8, jobs: 1, engine: 9, server: 10, cli: 11,
}
/** Generated data tables, exempt from the size limit (style.md §2.7). */
const SIZE_EXEMPT = new Set(['src/prompt/html-entities.ts', 'src/prompt/ftfy-charmaps.ts'])

const SRC = join(REPO_ROOT, 'src')
const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n)
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
})
const sources = walk(SRC).filter((f) => !f.endsWith('.test.ts'))
const layerOf = (file: string): string => relative(SRC, file).split(sep)[0]

test('every src layer is known', () => {
  const unknown = [...new Set(sources.map(layerOf))].filter((l) => !(l in RANK))
  assert.deepEqual(unknown, [])
})

test('imports point one way: no layer imports a higher one', () => {
  const violations: string[] = []
  for (const file of sources) {
    const from = layerOf(file)
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const target = relative(SRC, join(file, '..', m[1]))
      if (target.startsWith('..')) { violations.push(`${relative(REPO_ROOT, file)} imports ${m[1]} (outside src/)`); continue }
      const to = target.split(sep)[0]
      if (to !== from && (RANK[to] ?? 99) > RANK[from]) violations.push(`${relative(REPO_ROOT, file)} (${from}) imports ${to}`)
    }
  }
  assert.deepEqual(violations, [])
})

test('source files stay under 500 lines', () => {
  const long = sources
    .map((f) => ({ f: relative(REPO_ROOT, f), n: readFileSync(f, 'utf8').split('\n').length }))
    .filter(({ f, n }) => n > 500 && !SIZE_EXEMPT.has(f))
    .map(({ f, n }) => `${f}: ${n} lines`)
  assert.deepEqual(long, [])
})
