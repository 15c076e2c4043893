/**
 * The malicious-file corpus (test/fixtures/hostile-files.ts) through what a user runs: `sdloom inspect` and
 * `sdloom convert` in-process (runCli), the tool functions behind them, and the PNG decoder an upload meets. Each
 * file is refused with its own typed error and exact message; nothing is executed (the pickles' payload would create
 * a marker file), and nothing is written anywhere: the sandbox holds the same files afterwards and the output
 * folder stays empty.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { runCli } from '../../src/cli/main.ts'
import { inspectFile } from '../../src/tools/inspect.ts'
import { inspectPng } from '../../src/tools/inspect-png.ts'
import { convertModel } from '../../src/tools/convert.ts'
import { readPng } from '../../src/image/png.ts'
import { writeHostileCorpus, type HostileCase } from '../fixtures/hostile-files.ts'

let sandbox = ''
let corpus = ''
let out = ''
let marker = ''
let cases: HostileCase[] = []

const listAll = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true })).map((f) => relative(dir, join(dir, f))).sort()

before(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'sdloom-hostile-'))
  corpus = join(sandbox, 'corpus')
  out = join(sandbox, 'out')
  marker = join(sandbox, 'PWNED')
  await mkdir(corpus)
  await mkdir(out)
  cases = await writeHostileCorpus(corpus, marker)
})
after(async () => { await rm(sandbox, { recursive: true, force: true }) })

/** Runs the CLI in-process; returns its exit code and what it wrote to stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr)
  let stderr = ''
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true }) as typeof process.stderr.write
  try {
    return { code: await runCli(args), stderr }
  } finally {
    process.stderr.write = write
  }
}

test('the corpus covers every kind of hostile file the issue lists', () => {
  assert.equal(cases.length, 30)
  assert.deepEqual([...new Set(cases.map((c) => c.error))].sort(), ['PickleSecurityError', 'PngError', 'TensorFileError'])
})

test('every hostile model file is refused by name by inspect and convert; nothing runs, nothing is written', async () => {
  const before = await listAll(sandbox)
  for (const c of cases.filter((k) => k.kind === 'model')) {
    const file = join(corpus, c.file)
    await assert.rejects(inspectFile(file), { name: c.error, message: c.message }, c.file)
    await assert.rejects(convertModel(file, join(out, `${c.file}.safetensors`)), { name: c.error, message: c.message }, c.file)
  }
  assert.equal(existsSync(marker), false, 'a pickle payload ran')
  assert.deepEqual(await listAll(sandbox), before)
  assert.deepEqual(await readdir(out), [])
})

test('the CLI reports each refusal on one line with exit code 1 (in-process runCli)', async () => {
  for (const c of cases.filter((k) => k.kind === 'model').slice(0, 12)) {
    const file = join(corpus, c.file)
    assert.deepEqual(await cli(['inspect', file]), { code: 1, stderr: `error: ${c.message}\n` }, c.file)
    assert.deepEqual(await cli(['convert', file, join(out, 'x.safetensors')]), { code: 1, stderr: `error: ${c.message}\n` }, c.file)
  }
  assert.deepEqual(await readdir(out), [])
  assert.equal(existsSync(marker), false)
})

test('every hostile PNG is refused by name by the decoder; the text ones by inspect too', async () => {
  for (const c of cases.filter((k) => k.kind === 'png')) {
    const file = join(corpus, c.file)
    await assert.rejects(readPng(file), { name: c.error, message: c.message }, c.file)
    const headerOnly = /pixel-bomb|idat-bomb/.test(c.file)
    if (!headerOnly) await assert.rejects(inspectPng(file), { name: c.error, message: c.message }, c.file)
  }
})

test('a __proto__ key in safetensors metadata stays data: no prototype is polluted', async () => {
  const { writeFile } = await import('node:fs/promises')
  const header = '{"__metadata__":{"__proto__":"x","constructor":"y"},"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
  const json = Buffer.from(header)
  const file = join(corpus, 'proto.safetensors')
  const bytes = Buffer.concat([Buffer.alloc(8), json, Buffer.alloc(4)])
  bytes.writeBigUInt64LE(BigInt(json.length))
  await writeFile(file, bytes)
  const report = await inspectFile(file)
  assert.equal(({} as Record<string, unknown>).dtype, undefined)
  assert.equal(Object.prototype.toString.call({}), '[object Object]')
  assert.ok(report)
  await rm(file)
})
