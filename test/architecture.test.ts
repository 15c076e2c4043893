/*
 * House rules that a reader should not have to police by hand (style.md §2.1, §2.7): imports follow the arrows of
 * ../shared/docs/architecture.json (the intended layering; an import from A to B is allowed when B is reachable from A
 * along the arrows, and never when A → B is a "never" pair), and source files stay under 500 lines.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { REPO_ROOT } from './golden.ts'

interface ArchitectureJson {
  readonly parts: Readonly<Record<string, unknown>>
  readonly ideas: Readonly<Record<string, unknown>>
  readonly arrows: readonly (readonly string[])[]
  readonly never: readonly (readonly string[])[]
  readonly notes: readonly { readonly text: string }[]
}
const ARCH = JSON.parse(readFileSync(join(REPO_ROOT, '..', 'shared', 'docs', 'architecture.json'), 'utf8')) as ArchitectureJson

/** The package entry (src/index.ts and any other file directly in src/) is a part of its own. */
const ENTRY = '(entry)'

/**
 * Arrows the code uses that architecture.json does not draw, declared here with the reason for each. Every part may
 * import core (dtypes, host tensors, typed errors: the ground floor), which the JSON leaves implicit.
 */
const DECLARED: readonly (readonly [string, string, string])[] = [
  ['adapters', 'graph', 'LoRA products run as onnxruntime MatMuls (adapters/ort-matmul.ts)'],
  ['adapters', 'nn', 'bypass mode builds the low-rank layout the nn layers read (adapters/bypass.ts)'],
  ['pipeline', 'tools', 'LoRA short hashes for the infotext come from the hash cache (tools/hash.ts) until the Engine\'s hash store owns them'],
  ['tools', 'image', 'inspect reads PNG infotext (tools/inspect-png.ts)'],
  ['tools', 'prompt', 'inspect lists the extra networks a PNG\'s prompt names (tools/inspect-png.ts)'],
  ['tools', 'adapters', 'the LoRA tools reuse the engine\'s adapter parser, merge math (PatchSet, for bake) and onnxruntime MatMul (for the SVDs) instead of copies'],
  ['engine', 'image', 'finished images become RGB bytes and infotext for the events'],
  ['engine', 'tools', 'AutoV2 hashes of model and VAE for the infotext (tools/hash.ts)'],
  [ENTRY, 'engine', 'the package exports the Engine, its client and the contract'],
]

const notesNever = ARCH.notes.flatMap((n) => {
  const m = /^never \(once built\): (\S+) -> (\S+): (.*)$/.exec(n.text)
  return m ? [[m[1], m[2], m[3]] as const] : []
})
const NEVER = [...ARCH.never, ...notesNever]
const KNOWN = new Set([...Object.keys(ARCH.parts), ...Object.keys(ARCH.ideas), ENTRY])
const ARROWS: readonly (readonly string[])[] = [...ARCH.arrows, ...DECLARED, ...[...KNOWN].filter((p) => p !== 'core').map((p) => [p, 'core'])]

function reachable(from: string): Set<string> {
  const seen = new Set<string>([from])
  const stack = [from]
  while (stack.length > 0) {
    const p = stack.pop()!
    for (const [a, b] of ARROWS) if (a === p && !seen.has(b)) { seen.add(b); stack.push(b) }
  }
  return seen
}

/** Generated data tables, exempt from the size limit (style.md §2.7). */
const SIZE_EXEMPT = new Set(['src/prompt/html-entities.ts', 'src/prompt/ftfy-charmaps.ts'])

const SRC = join(REPO_ROOT, 'src')
const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n)
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
})
const sources = walk(SRC).filter((f) => !f.endsWith('.test.ts'))
const layerOf = (file: string): string => {
  const parts = relative(SRC, file).split(sep)
  return parts.length === 1 ? ENTRY : parts[0]
}

test('every src layer is a part or idea of architecture.json', () => {
  const unknown = [...new Set(sources.map(layerOf))].filter((l) => !KNOWN.has(l))
  assert.deepEqual(unknown, [])
})

test('the rules are consistent: arrows form no cycle and no arrow is a "never" pair', () => {
  const cycles = [...KNOWN].filter((p) => ARROWS.some(([a, b]) => a === p && b !== p && reachable(b).has(p)))
  assert.deepEqual(cycles, [])
  const contradicted = NEVER.filter(([a, b]) => ARROWS.some(([x, y]) => x === a && y === b))
  assert.deepEqual(contradicted, [])
  assert.ok(NEVER.some(([a, b]) => a === 'pipeline' && b === 'engine'), 'the notes\' "never (once built)" pairs are read')
})

test('imports follow the arrows of architecture.json and break no "never" pair', () => {
  const violations: string[] = []
  const closure = new Map([...KNOWN].map((p) => [p, reachable(p)]))
  for (const file of sources) {
    const from = layerOf(file)
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const target = relative(SRC, join(file, '..', m[1]))
      if (target.startsWith('..')) { violations.push(`${relative(REPO_ROOT, file)} imports ${m[1]} (outside src/)`); continue }
      const to = layerOf(join(SRC, target))
      if (to === from) continue
      const never = NEVER.find(([a, b]) => a === from && b === to)
      if (never) violations.push(`${relative(REPO_ROOT, file)} (${from}) imports ${to}: never (${never[2] ?? ''})`)
      else if (!closure.get(from)?.has(to)) violations.push(`${relative(REPO_ROOT, file)} (${from}) imports ${to}: no arrow`)
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

test('web/ (the page) talks to the server over HTTP only: it imports its own files and npm packages, never src/; files stay under 500 lines', () => {
  const WEB = join(REPO_ROOT, 'web', 'src')
  const webFiles = readdirSync(WEB).filter((n) => /\.(ts|tsx)$/.test(n)).map((n) => join(WEB, n))
  assert.ok(webFiles.length > 0)
  const violations = webFiles.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/(?:from|import) '([^']+)'/g)]
    .filter((m) => m[1].startsWith('.') ? relative(WEB, join(file, '..', m[1])).startsWith('..') : !/^preact(\/|$)/.test(m[1]))
    .map((m) => `${relative(REPO_ROOT, file)} imports ${m[1]}`))
  assert.deepEqual(violations, [])
  assert.deepEqual(webFiles.filter((f) => readFileSync(f, 'utf8').split('\n').length > 500), [])
})
