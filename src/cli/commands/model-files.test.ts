/** `sdloom inspect`, `hash` and `convert`: in-process through their Command objects, and end to end as a subprocess. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readRefJson, ref, REPO_ROOT } from '../../../test/golden.ts'
import { runCmd } from '../../../test/fixtures/run-command.ts'
import { inspect } from './inspect.ts'
import { hash } from './hash.ts'
import { convert } from './convert.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-cli-files-')) })
after(() => rm(dir, { recursive: true, force: true }))

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    { encoding: 'utf8', cwd: REPO_ROOT, env: { ...process.env, SDLOOM_CACHE: join(dir, 'cache') } })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

const sd1 = ref('sd1', 'tiny-sd1.safetensors')
const files = readRefJson('sd1', 'files.json')

test('inspect --json: one object per file, an array for several', async () => {
  const one = await runCmd(inspect, [sd1], {}, true)
  assert.equal(one.code, 0)
  const j = JSON.parse(one.out)
  assert.deepEqual([j.kind, j.architecture.id, j.fileSize], ['checkpoint', 'sd1', files['tiny-sd1.safetensors'].bytes])
  const two = JSON.parse((await runCmd(inspect, [sd1, ref('sd1', 'adapters', 'tinylora.safetensors')], {}, true)).out)
  assert.deepEqual(two.map((r: { kind: string }) => r.kind), ['checkpoint', 'lora'])
})

test('hash: the chosen kinds, text and JSON', async () => {
  const { sha256 } = files['tiny-sd1.safetensors']
  const values = { 'kinds': 'autov2,sha256', 'no-cache': true }
  assert.deepEqual(await runCmd(hash, [sd1], values), { code: 0, out: `autov2:${sha256.slice(0, 10)}  sha256:${sha256}  ${sd1}\n`, err: '' })
  assert.deepEqual(JSON.parse((await runCmd(hash, [sd1], values, true)).out), { file: sd1, autov2: sha256.slice(0, 10), sha256 })
  await assert.rejects(runCmd(hash, [sd1], { kinds: 'sha1' }), {
    name: 'InputError', message: '--kinds: unknown hash kind(s) "sha1"; known: sha256, autov2, autov3, autov1',
  })
})

test('convert: option checks', async () => {
  const out = join(dir, 'x.safetensors')
  await assert.rejects(runCmd(convert, [sd1, out], { dtype: 'fp8' }), { name: 'InputError', message: '--dtype: "fp8" is not one of fp16, bf16, fp32' })
  await assert.rejects(runCmd(convert, [sd1, out], { 'ema': true, 'no-ema': true }), { name: 'InputError', message: '--ema and --no-ema exclude each other' })
  await assert.rejects(runCmd(convert, [sd1, out], { only: 'clip' }), { name: 'InputError', message: '--only: "clip" is not one of unet, vae, text-encoder' })
  await assert.rejects(runCmd(convert, [sd1]), { name: 'InputError', message: 'convert takes IN and OUT, got 1 argument(s). See: sdloom convert --help' })
})

test('subprocess: convert then inspect and hash the result; errors are one stderr line', () => {
  const out = join(dir, 'vae.safetensors')
  const c = cli(['convert', '--only', 'vae', '--dtype', 'fp16', ref('sd1', 'tiny-sd1.ckpt'), out])
  assert.equal(c.code, 0, c.err)
  assert.match(c.out, /^wrote .*vae\.safetensors: \d+ of 1011 tensors, \d+ converted\n$/)
  const i = cli(['inspect', '--json', out])
  assert.equal(i.code, 0, i.err)
  assert.deepEqual([JSON.parse(i.out).kind, JSON.parse(i.out).summary.dtypes.map((d: { dtype: string }) => d.dtype)], ['vae', ['F16']])
  const h1 = cli(['hash', '--json', out])
  const h2 = cli(['hash', '--json', out])
  assert.equal(h1.code, 0, h1.err)
  assert.deepEqual(JSON.parse(h2.out), JSON.parse(h1.out))
  const bad = cli(['inspect', ref('sdxl', 'goldens', 'sample.euler.64x64.png')])
  assert.deepEqual([bad.code, bad.out], [2, ''])
  assert.equal(bad.err, 'error: sample.euler.64x64.png: a PNG image without a "parameters" text chunk, so no generation parameters or adapters to list '
    + '(no text chunks). Hint: only images saved by sdloom or A1111 carry them.\n')
})

test('several files: a bad one is reported on its own, the good ones still print, exit 1', async () => {
  const lora = ref('sd1', 'adapters', 'tinylora.safetensors')
  const missing = join(dir, 'nope.safetensors')
  const text = await runCmd(inspect, [sd1, missing, lora])
  assert.equal(text.code, 1)
  assert.match(text.out, /tiny-sd1\.safetensors/)
  assert.match(text.out, /tinylora\.safetensors/)
  assert.equal(text.err.split('\n').filter((l) => l !== '').length, 1)
  assert.match(text.err, /^error: .*nope\.safetensors/)
  const json = await runCmd(inspect, [sd1, missing, lora], {}, true)
  assert.equal(json.code, 1)
  const reports = JSON.parse(json.out)
  assert.deepEqual(reports.map((r: { kind?: string; file?: string; error?: string }) => r.kind ?? (r.error ? 'error' : '?')), ['checkpoint', 'error', 'lora'])
  assert.equal(reports[1].file, missing)
  const { sha256 } = files['tiny-sd1.safetensors']
  const h = await runCmd(hash, [missing, sd1], { 'kinds': 'sha256', 'no-cache': true }, true)
  assert.equal(h.code, 1)
  assert.deepEqual(JSON.parse(h.out), [{ file: missing, error: JSON.parse(h.out)[0].error }, { file: sd1, sha256 }])
  assert.match(JSON.parse(h.out)[0].error, /nope\.safetensors/)
  const ht = await runCmd(hash, [missing, sd1], { 'kinds': 'sha256', 'no-cache': true })
  assert.deepEqual([ht.code, ht.out], [1, `sha256:${sha256}  ${sd1}\n`])
})
