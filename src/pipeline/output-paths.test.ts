import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nextSequenceNumber, outputPaths } from './output-paths.ts'

let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'sdloom-out-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

test('a folder gets <5-digit counter>-<seed>.png, continuing after the largest leading number (A1111)', async () => {
  const dir = join(root, 'a', 'b')
  assert.equal(await nextSequenceNumber(dir), 0)
  assert.deepEqual(await outputPaths(dir, [42, 43]), [join(dir, '00000-42.png'), join(dir, '00001-43.png')])
  await mkdir(dir, { recursive: true })
  for (const n of ['00000-42.png', '00007-1.png', 'notes.txt', '12x.png']) await writeFile(join(dir, n), '')
  assert.equal(await nextSequenceNumber(dir), 13)
  assert.deepEqual(await outputPaths(dir, [5]), [join(dir, '00013-5.png')])
})

test('a .png path names one image; several get -1, -2, … suffixes', async () => {
  const file = join(root, 'c', 'cat.png')
  assert.deepEqual(await outputPaths(file, [1]), [file])
  assert.deepEqual(await outputPaths(file, [1, 2]), [join(root, 'c', 'cat-1.png'), join(root, 'c', 'cat-2.png')])
})
