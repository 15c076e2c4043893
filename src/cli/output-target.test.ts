import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../core/errors.ts'
import { prepareOutput } from './output-target.ts'

/** An existing folder this process cannot write to: root ignores mode bits, but not sysfs. */
async function unwritableFolder(root: string): Promise<string> {
  if (process.getuid?.() === 0) return '/sys/kernel'
  const dir = join(root, 'read-only')
  await mkdir(dir)
  await chmod(dir, 0o555)
  return dir
}

test('an existing but unwritable folder fails at once, in one line naming it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sdloom-out-'))
  try {
    const dir = await unwritableFolder(root)
    const t0 = performance.now()
    await assert.rejects(prepareOutput(dir), (e: unknown) => e instanceof InputError
      && e.message === `--out: cannot write to the folder ${dir} (permission denied); choose another --out`)
    assert.ok(performance.now() - t0 < 1000)
  } finally {
    await chmod(join(root, 'read-only'), 0o755).catch(() => undefined)
    await rm(root, { recursive: true, force: true })
  }
})

test('/proc/new/ fails (Node\'s recursive mkdir would spin there forever)', async () => {
  const t0 = performance.now()
  await assert.rejects(prepareOutput('/proc/new/'), { message: '--out: cannot write to the folder /proc/new (it cannot be created there); choose another --out' })
  await assert.rejects(prepareOutput('/proc/new/deeper/x.png'), /cannot write to the folder \/proc\/new \(/)
  assert.ok(performance.now() - t0 < 1000)
})

test('a .png path is a file in its folder; other image extensions are refused; other paths are folders', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sdloom-out-'))
  try {
    assert.deepEqual(await prepareOutput(join(root, 'a', 'b', 'one.png')), { kind: 'file', folder: join(root, 'a', 'b') })
    assert.deepEqual(await readdir(root), [], 'the probe file and the folders made for it are removed')
    await mkdir(join(root, 'a'))
    await prepareOutput(join(root, 'a'))
    assert.deepEqual(await readdir(join(root, 'a')), [], 'the probe file is removed')
    await assert.rejects(prepareOutput(join(root, 'one.jpg')), { message: `--out ${join(root, 'one.jpg')}: sdloom writes PNG files only (A1111's infotext lives in PNG text chunks); use --out ${join(root, 'one')}.png, or a folder` })
    await assert.rejects(prepareOutput(join(root, 'one.WEBP')), /writes PNG files only/)
    assert.deepEqual(await readdir(root), ['a'], 'no folder named one.jpg')
    assert.deepEqual(await prepareOutput(join(root, 'runs.v2')), { kind: 'folder', folder: join(root, 'runs.v2') })
    await writeFile(join(root, 'file'), '')
    await assert.rejects(prepareOutput(join(root, 'file')), /cannot write to the folder .*file \(a file of that name exists\)/)
    await assert.rejects(prepareOutput(join(root, 'file', 'sub')), /cannot write to the folder .*file\/sub \(part of the path is a file\)/)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})
