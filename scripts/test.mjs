// Runs every *.test.ts under src/ and test/ with node's own runner (Node 20's --test takes no globs).
// Extra arguments are passed on as file filters: `npm test -- safetensors` runs the files whose path contains it.
// Node warnings fail the run (issue #14): a test file's stderr reaches the runner's report as "(node:PID) …Warning:"
// lines (e.g. "Closing file descriptor N on garbage collection", a DeprecationWarning), so a second reporter writes
// TAP to a file that is scanned after the run, while the spec report goes to the terminal as before.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
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
const tapDir = mkdtempSync(join(tmpdir(), 'sdloom-test-'))
const tap = join(tapDir, 'report.tap')
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2',
  '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files], { stdio: 'inherit' })
const warnings = readFileSync(tap, 'utf8').split('\n').filter((l) => /^\s*# \(node:\d+\) (\[\w+\] )?\w*Warning: /.test(l)).map((l) => l.replace(/^\s*# /, ''))
rmSync(tapDir, { recursive: true, force: true })
if (warnings.length > 0) {
  console.error(`\nnpm test fails on Node warnings (${warnings.length}); fix their cause:\n${[...new Set(warnings)].map((w) => `  ${w}`).join('\n')}`)
  process.exit(r.status || 1)
}
process.exit(r.status ?? 1)
