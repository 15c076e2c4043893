import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSafetensors } from './safetensors.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-st-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** A safetensors file from a header (any JSON value or raw text) and a data area of `dataBytes` bytes (0, 1, 2, …). */
async function stFile(name: string, header: unknown, dataBytes: number, lengthOverride?: bigint): Promise<string> {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header))
  const buf = new Uint8Array(8 + json.length + dataBytes)
  new DataView(buf.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true)
  buf.set(json, 8)
  for (let i = 0; i < dataBytes; i++) buf[8 + json.length + i] = i & 0xff
  const path = join(dir, name)
  await writeFile(path, buf)
  return path
}

const rejects = (path: string, message: string): Promise<void> => assert.rejects(openSafetensors(path), { name: 'TensorFileError', message })

test('a valid file: keys in data order, metadata, lazy positional reads', async () => {
  const header = {
    __metadata__: { format: 'pt' },
    b: { dtype: 'F16', shape: [2], data_offsets: [8, 12] },
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    empty: { dtype: 'F32', shape: [0, 3], data_offsets: [12, 12] },
  }
  const path = await stFile('ok.safetensors', header, 12)
  const st = await openSafetensors(path)
  try {
    assert.deepEqual(st.keys(), ['a', 'b', 'empty'])
    assert.deepEqual({ ...st.metadata }, { format: 'pt' })
    assert.deepEqual(st.info('b'), { dtype: 'F16', shape: [2], byteLength: 4, count: 2, start: 8 + JSON.stringify(header).length + 8 })
    assert.deepEqual([...await st.readRaw('b')], [8, 9, 10, 11])
    assert.deepEqual([...await st.readF32('empty')], [])
    assert.throws(() => st.info('c'), { message: 'ok.safetensors: tensor "c": no such tensor in this file' })
    await truncate(path, 8 + JSON.stringify(header).length + 6)
    await assert.rejects(st.readRaw('b'), { message: `ok.safetensors: file is truncated: expected 4 bytes at offset ${8 + JSON.stringify(header).length + 8}, got 0` })
  } finally { await st.close() }
})

test('a file shorter than the length prefix', async () => {
  const path = join(dir, 'short.safetensors')
  await writeFile(path, new Uint8Array(5))
  await rejects(path, 'short.safetensors: file is 5 bytes, too short for a safetensors header')
})

test('a header length beyond the file', async () => {
  await rejects(await stFile('beyond.safetensors', {}, 0, 4096n), 'beyond.safetensors: header length 4096 runs past the end of the 10-byte file (truncated, or not a safetensors file)')
})

test('a 2^60 header length is refused before any allocation', async () => {
  await rejects(await stFile('huge.safetensors', {}, 0, 2n ** 60n),
    'huge.safetensors: header length 1152921504606846976 exceeds the 100000000-byte limit; this is not a valid safetensors file')
})

test('a header that is not JSON, or a JSON array', async () => {
  await rejects(await stFile('nonjson.safetensors', '{"a": [', 0),
    'nonjson.safetensors: header is not valid UTF-8 JSON (Unexpected end of JSON input)')
  await rejects(await stFile('array.safetensors', [1, 2], 0),
    'array.safetensors: header is a JSON array, expected a JSON object of tensors')
})

test('overlapping offsets', async () => {
  const h = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }
  await rejects(await stFile('overlap.safetensors', h, 12),
    'overlap.safetensors: tensor "b": data_offsets [4, 12] overlap the previous tensor\'s data (which ends at 8)')
})

test('offsets outside the data area', async () => {
  const h = { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }
  await rejects(await stFile('range.safetensors', h, 8),
    'range.safetensors: tensor "a": data_offsets [0, 16] run past the end of the data area (8 bytes); the file may be truncated')
})

test('dims whose product overflows 2^53', async () => {
  const h = { a: { dtype: 'U8', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 0] } }
  await rejects(await stFile('dims.safetensors', h, 0),
    'dims.safetensors: tensor "a": shape [1073741824, 1073741824, 1073741824] has more than 2^53 elements')
})

test('an unknown dtype', async () => {
  const h = { a: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } }
  await rejects(await stFile('dtype.safetensors', h, 1),
    'dtype.safetensors: tensor "a": unknown dtype "F4"; supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL')
})

test('holes: between tensors and after the last one', async () => {
  const h = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }
  await rejects(await stFile('hole.safetensors', h, 12),
    'hole.safetensors: tensor "b": hole of 4 unindexed bytes before this tensor\'s data (offsets 4 to 8)')
  await rejects(await stFile('tail.safetensors', { a: h.a }, 6), 'tail.safetensors: 2 bytes after the last tensor are not indexed by the header')
})

test('size mismatches, bad entries and bad metadata', async () => {
  await rejects(await stFile('size.safetensors', { a: { dtype: 'F16', shape: [3], data_offsets: [0, 4] } }, 4),
    'size.safetensors: tensor "a": data_offsets [0, 4] span 4 bytes but F16 [3] needs 6')
  await rejects(await stFile('entry.safetensors', { a: [1] }, 0),
    'entry.safetensors: tensor "a": header entry is [1], expected {dtype, shape, data_offsets}')
  await rejects(await stFile('neg.safetensors', { a: { dtype: 'F16', shape: [-1], data_offsets: [0, 0] } }, 0),
    'neg.safetensors: tensor "a": shape [-1] is not a list of non-negative integers')
  await rejects(await stFile('offs.safetensors', { a: { dtype: 'F16', shape: [1], data_offsets: [0, 2 ** 64] } }, 0),
    'offs.safetensors: tensor "a": data_offsets [0,18446744073709552000] is not [begin, end] with non-negative integers')
  await rejects(await stFile('meta.safetensors', { __metadata__: { step: 5 } }, 0),
    'meta.safetensors: tensor "__metadata__": value of "step" is 5, expected a string')
})

test('a missing file', async () => {
  await rejects(join(dir, 'nope.safetensors'), 'nope.safetensors: no such file')
})
