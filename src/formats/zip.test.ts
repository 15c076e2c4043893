import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ZipArchive } from './zip.ts'
import { storedZip } from '../../test/fixtures/torch-pickle-writer.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-zip-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const FILES = [
  { name: 'a/data.pkl', data: text('hello pickle') },
  { name: 'a/data/0', data: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff), deflate: true },
  { name: 'a/version', data: text('3\n') },
]

async function withZip<T>(name: string, bytes: Uint8Array, fn: (z: ZipArchive) => Promise<T>): Promise<T> {
  const path = join(dir, name)
  await writeFile(path, bytes)
  const fh = await open(path, 'r')
  try { return await fn(await ZipArchive.open(path, fh, bytes.length)) } finally { await fh.close() }
}

for (const zip64 of [false, true]) {
  test(`reads stored and deflated entries${zip64 ? ' through zip64 records' : ''}`, async () => {
    await withZip(`ok${zip64 ? '64' : ''}.zip`, storedZip(FILES, zip64), async (z) => {
      assert.deepEqual([...z.entries.keys()], FILES.map((f) => f.name))
      assert.deepEqual(await z.readAll(z.entry('a/data.pkl'), 1000), FILES[0].data)
      assert.deepEqual(await z.read(z.entry('a/data.pkl'), 6, 6), text('pickle'))
      assert.deepEqual(await z.read(z.entry('a/data/0'), 250, 50), FILES[1].data.subarray(250))
      assert.equal(z.entry('a/data/0').method, 8)
    })
  })
}

test('an entry that runs past the end of the file (truncated archive)', async () => {
  const bytes = storedZip([{ name: 'a/data/0', data: new Uint8Array(100) }])
  // Claim 10,000 bytes in the central directory: the entry would run into and past the directory.
  const dv = new DataView(bytes.buffer)
  const cd = dv.getUint32(bytes.length - 6, true)
  dv.setUint32(cd + 20, 10_000, true)
  dv.setUint32(cd + 24, 10_000, true)
  await assert.rejects(withZip('past.zip', bytes, async () => undefined), {
    name: 'TensorFileError',
    message: 'past.zip: zip entry "a/data/0": data (10000 bytes after offset 0) runs past the end of the entries area (138); the file is truncated or corrupt',
  })
})

test('no end record, a local header that disagrees, a CRC mismatch, reads outside an entry, size limits', async () => {
  await assert.rejects(withZip('cut.zip', storedZip(FILES).subarray(0, 200), async () => undefined), {
    message: 'cut.zip: not a readable zip archive: no end-of-central-directory record (truncated file?)',
  })
  const renamed = storedZip([{ name: 'a/x', data: text('abc') }])
  renamed[30] = 'b'.charCodeAt(0)
  await withZip('renamed.zip', renamed, async (z) => {
    await assert.rejects(z.readAll(z.entry('a/x'), 10), { message: 'renamed.zip: zip entry "a/x": local header names "b/x"' })
  })
  const corrupt = storedZip([{ name: 'a/x', data: text('abc') }])
  corrupt[30 + 3] ^= 1
  await withZip('crc.zip', corrupt, async (z) => {
    await assert.rejects(z.readAll(z.entry('a/x'), 10), { message: 'crc.zip: zip entry "a/x": CRC-32 mismatch; the file is corrupt' })
    await assert.rejects(z.read(z.entry('a/x'), 2, 5), { message: 'crc.zip: zip entry "a/x": read of 5 bytes at 2 is outside its 3 bytes' })
    await assert.rejects(z.readAll(z.entry('a/x'), 2), { message: 'crc.zip: zip entry "a/x" is 3 bytes, above the 2-byte limit' })
    assert.throws(() => z.entry('a/y'), { message: 'crc.zip: zip entry "a/y" is missing' })
  })
})
