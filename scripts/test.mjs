// Runs every *.test.ts under src/ and test/ with node's own runner (Node 20's --test takes no globs).
// Extra arguments are passed on as file filters: `npm test -- safetensors` runs the files whose path contains it.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const findTests = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name)
  if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : findTests(path)
  return name.endsWith('.test.ts') ? [path] : []
})
const filters = process.argv.slice(2)
const files = ['src', 'test'].flatMap(findTests).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
if (files.length === 0) { console.error('no test files matched'); process.exit(1) }
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' })
process.exit(r.status ?? 1)
