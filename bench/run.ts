/**
 * `npm run bench [section…]`: runs the benchmark sections (all by default) and prints a report.
 * Each section lives in bench/sections/<name>.ts and exports `run(): Promise<BenchResult>`.
 * Results are printed as Markdown; copy the figures into BENCHMARKS.md.
 */
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import type { BenchSection } from './section.ts'

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2)
const names = readdirSync(join(here, 'sections')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort()
for (const name of names) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  const mod = (await import(join(here, 'sections', `${name}.ts`))) as { section: BenchSection }
  console.log(`\n## ${mod.section.title}\n`)
  const rows = await mod.section.run()
  console.log('| measure | value | note |\n|---|---|---|')
  for (const r of rows) console.log(`| ${r.measure} | ${r.value} | ${r.note ?? ''} |`)
}
