/** `sdloom merge`, `lora` and `bake`: in-process through their Command objects, plus one subprocess run for --help/exit codes. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref, REPO_ROOT } from '../../../test/golden.ts'
import { runCmd } from '../../../test/fixtures/run-command.ts'
import { inspectFile } from '../../tools/inspect.ts'
import { fileWithWeights } from '../tool-options.ts'
import { merge } from './merge.ts'
import { lora } from './lora.ts'
import { bake } from './bake.ts'

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-cli-tools-'))
  process.env.SDLOOM_CACHE = join(dir, 'cache')
})
after(() => rm(dir, { recursive: true, force: true }))

const sd2 = ref('sd2', 'tiny-sd2-v.safetensors')
const tinylora = ref('sd1', 'adapters', 'tinylora.safetensors')

test('FILE:W and FILE:TE:UNET specs; a colon in the path is kept', () => {
  assert.deepEqual(fileWithWeights('a.safetensors'), { file: 'a.safetensors', weights: [] })
  assert.deepEqual(fileWithWeights('a.safetensors:0.7'), { file: 'a.safetensors', weights: [0.7] })
  assert.deepEqual(fileWithWeights('C:/x/a.safetensors:1:-0.5'), { file: 'C:/x/a.safetensors', weights: [1, -0.5] })
})

test('merge → lora extract → lora resize → lora merge → bake, each output named by inspect, --json summaries', async () => {
  const merged = join(dir, 'merged.safetensors')
  const m = await runCmd(merge, [sd2], { out: merged, dtype: 'fp16' }, true)
  assert.equal(JSON.parse(m.out).method, 'no-interpolation')
  assert.equal((await inspectFile(merged)).kind, 'checkpoint')

  const extracted = join(dir, 'extracted.safetensors')
  const e = await runCmd(lora, ['extract'], { tuned: merged, base: sd2, rank: '2', out: extracted, 'min-diff': '0' }, true)
  const ej = JSON.parse(e.out)
  assert.equal(ej.rank, 2)
  const info = await inspectFile(extracted)
  assert.equal(info.kind, 'lora')

  const resized = join(dir, 'resized.safetensors')
  const r = await runCmd(lora, ['resize', tinylora], { out: resized, dynamic: 'sv_fro', param: '0.95' })
  assert.match(r.out, /rank 4 → \d {2}alpha/)
  assert.match(r.out, /mean Frobenius norm retained/)

  const combined = join(dir, 'combined.safetensors')
  const c = await runCmd(lora, ['merge', `${tinylora}:0.5`, `${resized}:0.5`], { out: combined, rank: '3' }, true)
  assert.equal(JSON.parse(c.out).mode, 'svd')
  assert.equal((await inspectFile(combined)).kind, 'lora')

  const baked = join(dir, 'baked.safetensors')
  const b = await runCmd(bake, [ref('sd1', 'tiny-sd1.safetensors')], { lora: [`${combined}:0.8`], out: baked })
  assert.match(b.out, /wrote .*baked\.safetensors: SD1\.x checkpoint, \d+ tensors changed by combined/)
  assert.equal((await inspectFile(baked)).kind, 'checkpoint')
})

test('usage errors say what is missing', async () => {
  await assert.rejects(runCmd(merge, [sd2], {}), /merge needs --out/)
  await assert.rejects(runCmd(lora, ['shrink'], { out: 'x' }), /lora needs a sub-command: extract, resize, merge/)
  await assert.rejects(runCmd(lora, ['resize', tinylora], { out: join(dir, 'y.safetensors'), dynamic: 'sv_fro' }), /--dynamic sv_fro needs --param X/)
  await assert.rejects(runCmd(bake, [sd2], { out: 'x' }), /bake needs at least one --lora/)
})

test('a wrong --method through the real CLI: exit code 2 and one line', () => {
  assert.match(merge.help, /^Usage: sdloom merge A \[B \[C\]\]/)
  const bad = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'merge', sd2, sd2, '--method', 'average', '--out', join(dir, 'z.safetensors')],
    { encoding: 'utf8', cwd: REPO_ROOT })
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /error: --method: "average" is not one of weighted-sum, add-difference, no-interpolation/)
})
