import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readRefJson, ref } from '../../test/golden.ts'
import { hashFile, HASH_KINDS } from './hash.ts'

let dir = ''
let cacheDir = ''
/** A safetensors file larger than 1.1 MiB, so AutoV1's window (64 KiB at 1 MiB) is full. */
let big = ''
let bigBytes: Uint8Array

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-hash-'))
  cacheDir = join(dir, 'cache')
  const json = new TextEncoder().encode(JSON.stringify({ t: { dtype: 'U8', shape: [3_000_000], data_offsets: [0, 3_000_000] } }))
  bigBytes = new Uint8Array(8 + json.length + 3_000_000)
  new DataView(bigBytes.buffer).setBigUint64(0, BigInt(json.length), true)
  bigBytes.set(json, 8)
  bigBytes.set(randomBytes(3_000_000), 8 + json.length)
  big = join(dir, 'big.safetensors')
  await writeFile(big, bigBytes)
})
after(() => rm(dir, { recursive: true, force: true }))

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

test('sha256 and AutoV2 of every reference model file equal files.json', async () => {
  const lists = [['sd1'], ['sd2'], ['sdxl'], ['sdxl', 'adapters']]
  for (const folder of lists) {
    const files: Record<string, { sha256: string }> = readRefJson(...folder, 'files.json')
    for (const [name, { sha256 }] of Object.entries(files)) {
      if (!/\.(safetensors|ckpt|pt)$/.test(name)) continue
      const h = await hashFile(ref(...folder, name), ['sha256', 'autov2'], { cache: false })
      assert.deepEqual(h, { sha256, autov2: sha256.slice(0, 10) }, name)
    }
  }
})

test('every kind on one pass equals node crypto on the same bytes, whatever the chunk size', async () => {
  const headerEnd = 8 + Number(new DataView(bigBytes.buffer).getBigUint64(0, true))
  const expected = {
    sha256: sha(bigBytes),
    autov2: sha(bigBytes).slice(0, 10),
    autov3: sha(bigBytes.subarray(headerEnd)).slice(0, 12),
    autov1: sha(bigBytes.subarray(0x100000, 0x110000)).slice(0, 8),
  }
  for (const chunkBytes of [undefined, 65_537, 1_000_000]) {
    assert.deepEqual(await hashFile(big, HASH_KINDS, { cache: false, chunkBytes }), expected, `chunk ${chunkBytes}`)
  }
  assert.deepEqual(await hashFile(big, ['autov1'], { cache: false }), { autov1: expected.autov1 })
})

test('sha256 equals the sha256sum tool', async (t) => {
  let out: string
  try { out = execFileSync('sha256sum', [big], { encoding: 'utf8' }) } catch { t.skip('sha256sum is not installed'); return }
  assert.equal((await hashFile(big, ['sha256'], { cache: false })).sha256, out.split(' ')[0])
})

test('AutoV3 of a non-safetensors file is the plain SHA-256 prefix (A1111 read_hash), AutoV1 of a small file hashes nothing', async () => {
  const ckpt = ref('sd1', 'tiny-sd1.ckpt')
  const { sha256 } = readRefJson('sd1', 'files.json')['tiny-sd1.ckpt']
  assert.deepEqual(await hashFile(ckpt, ['autov3'], { cache: false }), { autov3: sha256.slice(0, 12) })
  const small = join(dir, 'small.bin')
  await writeFile(small, new Uint8Array(100))
  assert.deepEqual(await hashFile(small, ['autov1'], { cache: false }), { autov1: sha(new Uint8Array(0)).slice(0, 8) })
})

test('the cache answers a second call and is invalidated by a new mtime', async () => {
  const file = join(dir, 'cached.safetensors')
  await writeFile(file, bigBytes)
  const first = await hashFile(file, ['sha256', 'autov3'], { cacheDir })
  const cache = JSON.parse(await readFile(join(cacheDir, 'hashes.json'), 'utf8'))
  assert.equal(cache.files[file].digests.sha256, first.sha256)
  // Tamper with the cached digest: a cache hit must return it unchanged (proving the file was not re-read).
  cache.files[file].digests.sha256 = 'f'.repeat(64)
  await writeFile(join(cacheDir, 'hashes.json'), JSON.stringify(cache))
  assert.equal((await hashFile(file, ['autov2'], { cacheDir })).autov2, 'ffffffffff')
  await utimes(file, new Date(), new Date(Date.now() + 5000))
  assert.deepEqual(await hashFile(file, ['sha256', 'autov3'], { cacheDir }), first)
})

test('errors: unknown kind, missing file, corrupt cache', async () => {
  await assert.rejects(hashFile(big, ['md5' as never]), { name: 'InputError', message: 'unknown hash kind "md5"; known: sha256, autov2, autov3, autov1' })
  await assert.rejects(hashFile(join(dir, 'nope.safetensors'), ['sha256']), { name: 'TensorFileError', message: /^nope\.safetensors: cannot read: ENOENT/ })
  const bad = join(dir, 'bad-cache')
  await mkdir(bad)
  await writeFile(join(bad, 'hashes.json'), '{oops')
  await assert.rejects(hashFile(big, ['sha256'], { cacheDir: bad }), {
    name: 'HashCacheError',
    message: /^hash cache .*hashes\.json: not valid JSON \(.*\)\. Hint: delete the file; it is rebuilt on the next hash\.$/,
  })
})
