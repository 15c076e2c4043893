import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTensorFile } from './open.ts'
import { storedZip, torchCkptBytes, writeTorchCkpt, type FixtureValue, type TorchCkptOptions } from '../../test/fixtures/torch-pickle-writer.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-ckpt-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

const CKPT: FixtureValue = {
  epoch: 3,
  lr: 0.5,
  flag: true,
  optimizer: { 'moment.0': { dtype: 'F32', shape: [1], data: [9] } },
  state_dict: {
    'w.weight': { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
    'h.bias': { dtype: 'F16', shape: [3], data: [0.5, -2, 65504] },
    'ids': { dtype: 'I64', shape: [1, 4], data: [0, 1, -7, 2 ** 40] },
    // the transpose of a [2, 3] storage, and a view from element 2 of another
    't.weight': { dtype: 'F32', shape: [3, 2], stride: [1, 3], data: [1, 2, 3, 4, 5, 6] },
    'v.weight': { dtype: 'F16', shape: [2], offset: 2, data: [10, 20, 30, 40] },
    'empty': { dtype: 'F32', shape: [0, 4], data: [] },
    cond: { inner: { proj: { dtype: 'F32', shape: [1], data: [42] } }, name: 'tiny' },
  },
}
const EXPECTED: Record<string, { dtype: string; shape: number[]; values: number[] }> = {
  'w.weight': { dtype: 'F32', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] },
  'h.bias': { dtype: 'F16', shape: [3], values: [0.5, -2, 65504] },
  'ids': { dtype: 'I64', shape: [1, 4], values: [0, 1, -7, 2 ** 40] },
  't.weight': { dtype: 'F32', shape: [3, 2], values: [1, 4, 2, 5, 3, 6] },
  'v.weight': { dtype: 'F16', shape: [2], values: [30, 40] },
  'empty': { dtype: 'F32', shape: [0, 4], values: [] },
  'cond.inner.proj': { dtype: 'F32', shape: [1], values: [42] },
}

const variants: [string, TorchCkptOptions][] = [['zip', {}], ['zip64', { zip64: true }], ['big-endian', { bigEndian: true }], ['legacy', { legacy: true }]]
for (const [label, opts] of variants) {
  test(`torch ${label} checkpoint: state_dict unwrapped, keys flattened, views made contiguous, scalars as metadata`, async () => {
    const path = join(dir, `model-${label}.ckpt`)
    await writeTorchCkpt(path, CKPT, opts)
    const src = await openTensorFile(path)
    try {
      assert.equal(src.format, 'pickle')
      assert.deepEqual(src.keys(), Object.keys(EXPECTED))
      assert.deepEqual({ ...src.metadata }, { epoch: '3', lr: '0.5', flag: 'True', 'cond.name': 'tiny' })
      for (const [key, want] of Object.entries(EXPECTED)) {
        const info = src.info(key)
        assert.deepEqual([info.dtype, info.shape, info.byteLength], [want.dtype, want.shape, want.values.length * { F32: 4, F16: 2, I64: 8 }[want.dtype]!], key)
        assert.deepEqual([...await src.readF32(key)], want.values, key)
      }
      assert.deepEqual(new Float32Array((await src.readRaw('t.weight')).slice().buffer), Float32Array.from([1, 4, 2, 5, 3, 6]))
      assert.throws(() => src.info('optimizer.moment.0'), { message: `model-${label}.ckpt: tensor "optimizer.moment.0": no such tensor in this file` })
    } finally { await src.close() }
  })
}

test('a plain dict without state_dict keeps every tensor; .pt embeddings flatten as A1111 reads them', async () => {
  const path = join(dir, 'emb.pt')
  await writeTorchCkpt(path, { string_to_token: { '*': 265 }, string_to_param: { '*': { dtype: 'F32', shape: [1, 2], data: [1, 2] } }, name: 'emb', sd_checkpoint: null })
  const src = await openTensorFile(path)
  try {
    assert.deepEqual(src.keys(), ['string_to_param.*'])
    assert.deepEqual({ ...src.metadata }, { 'string_to_token.*': '265', name: 'emb' })
  } finally { await src.close() }
})

test('a tensor reaching past its storage names the file and key', async () => {
  const path = join(dir, 'oob.ckpt')
  await writeTorchCkpt(path, { 'a.weight': { dtype: 'F32', shape: [2, 3], stride: [3, 1], offset: 1, data: [1, 2, 3, 4, 5, 6] } })
  await assert.rejects(openTensorFile(path), {
    name: 'TensorFileError',
    message: 'oob.ckpt: tensor "a.weight": size [2, 3] with stride [3, 1] at offset 1 reaches element 6 of storage "0", which has 6 elements',
  })
})

test('a storage missing from the zip, or shorter than declared', async () => {
  const bytes = torchCkptBytes({ 'a.weight': { dtype: 'F32', shape: [2], data: [1, 2] } }, { archiveName: 'm' })
  const { unzipped } = await unzip(bytes)
  await writeFile(join(dir, 'nostorage.ckpt'), storedZip(unzipped.filter((f) => f.name !== 'm/data/0')))
  await assert.rejects(openTensorFile(join(dir, 'nostorage.ckpt')), { message: 'nostorage.ckpt: tensor "a.weight": its storage "0" is missing from the file' })
  await writeFile(join(dir, 'short.ckpt'), storedZip(unzipped.map((f) => (f.name === 'm/data/0' ? { ...f, data: f.data.subarray(0, 6) } : f))))
  await assert.rejects(openTensorFile(join(dir, 'short.ckpt')), { message: 'short.ckpt: tensor "a.weight": storage "0" holds 6 bytes, but 2 F32 elements need 8' })
})

test('a hostile data.pkl inside a checkpoint zip is refused before anything runs', async () => {
  const marker = join(dir, 'pwned')
  const pkl = new Uint8Array(Buffer.from(`\x80\x02}X\x01\x00\x00\x00acposix\nsystem\nX${String.fromCharCode(marker.length + 6)}\x00\x00\x00touch ${marker}\x85Rs.`, 'latin1'))
  await writeFile(join(dir, 'evil.ckpt'), storedZip([{ name: 'evil/data.pkl', data: pkl }]))
  await assert.rejects(openTensorFile(join(dir, 'evil.ckpt')), { name: 'PickleSecurityError', message: /^evil\.ckpt: refused to load: the pickle references "posix\.system"/ })
  assert.equal(existsSync(marker), false)
})

test('zips that are not torch checkpoints, and pickles that are not state dicts', async () => {
  await writeFile(join(dir, 'other.zip'), storedZip([{ name: 'readme.txt', data: new Uint8Array(3) }]))
  await assert.rejects(openTensorFile(join(dir, 'other.zip')), { message: 'other.zip: zip archive has no <name>/data.pkl; it is not a torch checkpoint' })
  await writeFile(join(dir, 'list.pt'), storedZip([{ name: 'l/data.pkl', data: Uint8Array.from([0x80, 2, 0x5d, 0x2e]) }]))
  await assert.rejects(openTensorFile(join(dir, 'list.pt')), { message: 'list.pt: the pickle holds a list, expected a dict of tensors (a state dict)' })
  await writeTorchCkpt(join(dir, 'dup.pt'), { 'a.b': 1, a: { b: { dtype: 'F32', shape: [1], data: [1] } }, 'x.y': { dtype: 'F32', shape: [1], data: [1] }, x: { y: { dtype: 'F32', shape: [1], data: [2] } } })
  await assert.rejects(openTensorFile(join(dir, 'dup.pt')), { message: 'dup.pt: tensor "x.y": the key occurs twice after flattening nested dicts' })
})

/** The entries of a fixture zip (stored), for rebuilding it with changes. */
async function unzip(bytes: Uint8Array): Promise<{ unzipped: { name: string; data: Uint8Array }[] }> {
  const { ZipArchive } = await import('./zip.ts')
  const path = join(dir, `tmp-${Math.random()}.zip`)
  await writeFile(path, bytes)
  const { open } = await import('node:fs/promises')
  const fh = await open(path, 'r')
  try {
    const z = await ZipArchive.open(path, fh, bytes.length)
    return { unzipped: await Promise.all([...z.entries.values()].map(async (e) => ({ name: e.name, data: await z.readAll(e, 1e6) }))) }
  } finally { await fh.close() }
}
