/**
 * Crash consistency of every kind of write sdloom makes today (convert, image save, the hash cache): a child process
 * repeating the write is killed with SIGKILL at random moments, and the target must then hold exactly the old bytes
 * or the new ones (never a prefix, never a mix). A write that hits the file-size limit (`ulimit -f`, which Node sees
 * as EFBIG, as a full disk gives ENOSPC) fails with one DiskFullError and leaves no file behind.
 * (Merge, bake, lora extract and the server's SQLite file: test/crash/.)
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { convertModel } from '../../src/tools/convert.ts'
import { encodePng } from '../../src/image/png.ts'
import { writeSafetensors } from '../../src/formats/safetensors-writer.ts'
import { crashImage } from './crash-fixtures.ts'

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url))
const KILLS = 4
let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-crash-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** Starts the child under `bash -c` (for ulimit); resolves with its exit code/signal and stderr. */
function runChild(kind: string, mode: 'loop' | 'once', work: string, opts: { killAfterMs?: number; ulimitKb?: number } = {}) {
  const cmd = `${opts.ulimitKb ? `ulimit -f ${opts.ulimitKb}; ` : ''}exec "${process.execPath}" --import tsx "${CHILD}" ${kind} ${mode} "${work}"`
  const child = spawn('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += String(d) })
  child.stdout.once('data', () => { if (opts.killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs) })
  return new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })))
}

/** Kills mid-write leave the writer's temp file (`.<name>.<pid>.<random>.tmp`) beside the target: how many hit one. */
const tempFiles = async (work: string): Promise<number> => (await readdir(work)).filter((f) => f.endsWith('.tmp')).length

async function killLoop(kind: string, work: string, target: string, versions: readonly Uint8Array[]): Promise<number> {
  for (let k = 0; k < KILLS; k++) {
    const r = await runChild(kind, 'loop', work, { killAfterMs: 150 + Math.floor(Math.random() * 600) })
    assert.equal(r.signal, 'SIGKILL', `the child ended before the kill: ${r.stderr}`)
    const now = new Uint8Array(await readFile(target))
    assert.ok(versions.some((v) => Buffer.compare(v, now) === 0), `${kind}: after kill ${k} the file is neither version (${now.length} bytes)`)
  }
  return tempFiles(work)
}

test('convert killed mid-write leaves the old output or the new one', async (t) => {
  const work = await mkdtemp(join(dir, 'convert-'))
  const values = Float32Array.from({ length: 1 << 18 }, (_, i) => Math.sin(i))
  await writeSafetensors(join(work, 'in.safetensors'), [{ name: 'model.w', dtype: 'F32', shape: [512, 512], data: new Uint8Array(values.buffer) }])
  const versions: Uint8Array[] = []
  for (const dtype of ['F32', 'F16'] as const) {
    await convertModel(join(work, 'in.safetensors'), join(work, 'out.safetensors'), { dtype })
    versions.push(new Uint8Array(await readFile(join(work, 'out.safetensors'))))
  }
  t.diagnostic(`${await killLoop('convert', work, join(work, 'out.safetensors'), versions)} of ${KILLS} kills landed mid-write`)
})

test('an image save killed mid-write leaves the old PNG or the new one', async (t) => {
  const work = await mkdtemp(join(dir, 'png-'))
  const versions = [encodePng(crashImage(0)), encodePng(crashImage(1))]
  await writeFile(join(work, 'out.png'), versions[0])
  t.diagnostic(`${await killLoop('png', work, join(work, 'out.png'), versions)} of ${KILLS} kills landed mid-write`)
})

test('the hash cache killed mid-write stays valid JSON', async () => {
  const work = await mkdtemp(join(dir, 'hash-'))
  for (let i = 0; i < 4; i++) await writeFile(join(work, `in${i}.bin`), new Uint8Array(1000 + i))
  await runChild('hash', 'once', work)
  for (let k = 0; k < KILLS; k++) {
    const r = await runChild('hash', 'loop', work, { killAfterMs: 150 + Math.floor(Math.random() * 600) })
    assert.equal(r.signal, 'SIGKILL', r.stderr)
    const cache = JSON.parse(await readFile(join(work, 'hashes.json'), 'utf8')) as { version: number; files: Record<string, unknown> }
    assert.equal(cache.version, 1)
    assert.ok(Object.keys(cache.files).length >= 1)
  }
})

test('a write past the file-size limit (ulimit -f, EFBIG; a full disk gives ENOSPC) is one DiskFullError and leaves no file', async () => {
  const work = await mkdtemp(join(dir, 'full-'))
  const values = new Uint8Array(1 << 20)
  await writeSafetensors(join(work, 'in.safetensors'), [{ name: 'model.w', dtype: 'F32', shape: [512, 512], data: values }])
  const r = await runChild('convert', 'once', work, { ulimitKb: 256 })
  assert.equal(r.code, 3)
  assert.match(r.stderr, /^DiskFullError: .*out\.safetensors: cannot write: the file-size limit was reached \(EFBIG\); nothing was written and any previous file is unchanged\. Hint: free space or write to another folder\n$/)
  assert.equal(existsSync(join(work, 'out.safetensors')), false)
  assert.deepEqual((await readdir(work)).sort(), ['in.safetensors'])
})
