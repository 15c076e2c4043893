/**
 * kill -9 while `sdloom merge`, `sdloom bake` and `sdloom lora extract` write their output over a previous file: a
 * child running the tool is SIGKILLed at a random moment after its temp file appears. The destination must then be
 * the previous file byte for byte or (a kill after the rename) the complete new one, never a prefix or a mix; the
 * inputs are untouched, and the next run of the tool finishes and sweeps the killed writers' stale
 * `.out.safetensors.<pid>.<hex>.tmp` files.
 * (convert, image save and the hash cache: test/e2e/crash-writes.test.ts.)
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { watch } from 'node:fs'
import { copyFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ref } from '../golden.ts'
import { writeVariant } from '../../src/tools/testing/variants.ts'
import { openTensorFile } from '../../src/formats/open.ts'

const CHILD = fileURLToPath(new URL('./tool-child.ts', import.meta.url))
const KILLS = 1
const INPUTS = ['base.safetensors', 'tuned.safetensors', 'lora.safetensors']
let inputs = ''
before(async () => {
  inputs = await mkdtemp(join(tmpdir(), 'sdloom-toolcrash-'))
  await copyFile(ref('sd1', 'tiny-sd1.safetensors'), join(inputs, 'base.safetensors'))
  await copyFile(ref('sd1', 'adapters', 'tinylora.safetensors'), join(inputs, 'lora.safetensors'))
  await writeVariant(join(inputs, 'base.safetensors'), join(inputs, 'tuned.safetensors'), { seed: 5 })
})
after(() => rm(inputs, { recursive: true, force: true }))

/** Runs the child; with `maxDelayMs`, SIGKILLs it a random 0..maxDelayMs after a temp file shows up in `dir`. */
function runChild(kind: string, dir: string, maxDelayMs?: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, kind, dir], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += String(d) })
  const watcher = maxDelayMs === undefined ? undefined : watch(dir, (_e, name) => {
    if (!name?.endsWith('.tmp')) return
    watcher?.close()
    setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * (maxDelayMs + 1)))
  })
  return new Promise((resolve) => child.on('close', (code, signal) => { watcher?.close(); resolve({ code, signal, stderr }) }))
}

const temps = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.tmp'))
const fingerprint = async (dir: string): Promise<string[]> =>
  Promise.all(INPUTS.map(async (f) => { const s = await stat(join(dir, f)); return `${f} ${s.size} ${s.mtimeMs}` }))

/** Upper bound of the kill delay per tool: about its write time here, so kills land early, mid and late in it. */
for (const [kind, maxDelayMs] of [['merge', 600], ['bake', 400], ['extract', 20]] as const) {
  test(`kill -9 during ${kind}'s output write leaves the old file; the next run sweeps the stale temp`, async (t) => {
    const dir = await mkdtemp(join(inputs, `${kind}-`))
    for (const f of INPUTS) await copyFile(join(inputs, f), join(dir, f))
    const out = join(dir, 'out.safetensors')
    // The previous output: any complete file will do (the lora), what matters is that it survives byte for byte.
    await copyFile(join(dir, 'lora.safetensors'), out)
    const old = await readFile(out)
    const before = await fingerprint(dir)
    const afterKills: Buffer[] = []
    for (let k = 0; k < KILLS; k++) {
      const r = await runChild(kind, dir, maxDelayMs)
      assert.ok(r.signal === 'SIGKILL' || r.code === 0, r.stderr)
      afterKills.push(await readFile(out))
    }
    assert.deepEqual(await fingerprint(dir), before, 'an input changed')
    const stale = await temps(dir)
    t.diagnostic(`${stale.length} of ${KILLS} kills landed mid-write (stale temp files)`)

    const r = await runChild(kind, dir)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await temps(dir), [], 'the next run left stale temp files')
    const now = await readFile(out)
    assert.ok(!now.equals(old), 'the next run did not write its output')
    // A kill that came after the rename leaves the new file, which the next run writes again (deterministic).
    afterKills.forEach((b, k) => assert.ok(b.equals(old) || b.equals(now), `${kind}: after kill ${k} the destination is neither the old file nor the new one`))
    const src = await openTensorFile(out)
    try { for (const key of src.keys()) await src.readRaw(key) } finally { await src.close() }
  })
}
