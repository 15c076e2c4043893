/**
 * One regression test per fuzz finding (RELIABILITY.md lists them): each input here once crashed a reader with a
 * non-SdError, hung it, allocated from an unchecked number, or gave a message with a JS artefact in it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts'
import { unpickle } from '../../src/formats/pickle.ts'
import { buildSource, storagePersistentLoad, type StorageStore } from '../../src/formats/ckpt.ts'
import type { TorchStorage } from '../../src/formats/pickle-types.ts'
import { decodeTextChunk } from '../../src/image/png-chunks.ts'
import { splitAndWeight } from '../../src/prompt/multicond.ts'
import { parseExtraNetworks } from '../../src/prompt/extra-networks.ts'
import { promptSchedule } from '../../src/prompt/prompt-editing.ts'
import { BPE_CACHE_LIMIT, createClipTokenizer } from '../../src/prompt/clip-tokenizer.ts'
import { PY_SPACE } from '../../src/prompt/py-text.ts'
import { TOKENIZER_DIR } from '../golden.ts'
import { memoryFile } from './memory-file.ts'

const header = async (json: string): Promise<unknown> => {
  const body = Buffer.from(json)
  const bytes = Buffer.concat([Buffer.alloc(8), body])
  bytes.writeBigUInt64LE(BigInt(body.length))
  const { fh, size } = memoryFile(bytes)
  return readSafetensorsHeader('f.safetensors', fh, size)
}
const within = (ms: number, f: () => unknown): void => {
  const t0 = performance.now()
  f()
  assert.ok(performance.now() - t0 < ms, `took ${(performance.now() - t0).toFixed(0)} ms`)
}

test('safetensors: an entry missing a field is named, not "undefined"', async () => {
  await assert.rejects(header('{"t":{"shape":[1],"data_offsets":[0,4]}}'), { name: 'TensorFileError',
    message: 'f.safetensors: tensor "t": header entry has no "dtype"; expected {dtype, shape, data_offsets}' })
})

test('safetensors: a value nested 100,000 deep is refused with a short preview, not a stack overflow in the message', async () => {
  await assert.rejects(header(`{"t":{"dtype":"F32","shape":${'['.repeat(100_000)}${']'.repeat(100_000)},"data_offsets":[0,0]}}`), {
    name: 'TensorFileError', message: 'f.safetensors: tensor "t": shape [[[[…]]]] is not a list of non-negative integers' })
})

const pickleStore: StorageStore = { bigEndian: false, byteLength: () => 4096, read: async (_k, _o, n) => new Uint8Array(n), close: async () => undefined }
const str = (s: string): string => `\x8c${String.fromCharCode(s.length)}${s}`

test('pickle: a stride-0 view of 2^40 elements is refused before anything is allocated', async () => {
  const bytes = Buffer.from(`\x80\x02}(${str('t')}ctorch._utils\n_rebuild_tensor_v2\n((${str('storage')}ctorch\nFloatStorage\n${str('0')}${str('cpu')}K\x01tQK\x00`
    + '(J\x00\x00\x10\x00J\x00\x00\x10\x00t(K\x00K\x00t\x89)tRu.', 'latin1')
  const storages = new Map<string, TorchStorage>()
  const { value } = unpickle(bytes, { file: 'v.ckpt', what: 'data.pkl', persistentLoad: storagePersistentLoad(storages) })
  assert.throws(() => buildSource('v.ckpt', value, pickleStore), { name: 'TensorFileError',
    message: 'v.ckpt: tensor "t": size [1048576, 1048576] with stride [0, 0] repeats the 1 elements of storage "0" (a stride of 0 or overlapping '
      + 'strides): reading it would materialise 4398046511104 bytes, above the 67108864-byte limit. Hint: re-save the tensor with .contiguous()' })
})

test('pickle: OBJ right after its MARK names the problem', () => {
  assert.throws(() => unpickle(Buffer.from('(o.', 'latin1'), { file: 'o.pkl', what: 'data.pkl' }), { name: 'TensorFileError',
    message: 'o.pkl: data.pkl: byte 1: OBJ with nothing after its MARK (expected a class and its arguments)' })
})

test('PNG: a zTXt chunk that ends after its keyword is named as truncated', () => {
  assert.throws(() => decodeTextChunk({ type: 'zTXt', data: Buffer.from('key\0') }, 'z.png'), { name: 'PngError',
    message: 'z.png: zTXt chunk "key": truncated (no compression method byte)' })
})

/** A1111's re_weight as a regex: the oracle for the direct scan (quadratic, so only short parts). */
const S = `[${PY_SPACE}]`
const WEIGHT_RE = new RegExp(`^([\\s\\S]*?)(?:${S}*:${S}*([-+]?(?:\\p{Nd}+\\.?|\\p{Nd}*\\.\\p{Nd}+)))?${S}*$`, 'u')
const WEIGHT_PIECES = ['a', ' ', ':', '1', '.', '-', '+', '٣', '\u3000', '\n', 'AND', ':1.5', ' :', '.5', '5.', 'x:y']

test('AND weights: the direct scan equals re_weight, and 20,000 spaces take no time (were 4.6 s)', () => {
  fc.assert(fc.property(fc.array(fc.constantFrom(...WEIGHT_PIECES), { maxLength: 12 }).map((a) => a.join('')), (part) => {
    const m = WEIGHT_RE.exec(part) as RegExpExecArray
    assert.deepEqual(splitAndWeight(part), { text: m[1], weight: m[2] === undefined ? 1 : Number(m[2].replaceAll('٣', '3')) }, JSON.stringify(part))
  }), { numRuns: 2000, seed: 3 })
  within(500, () => splitAndWeight(`a${' '.repeat(20_000)}b`))
})

const EXTRA_NET_RE = /<([\p{L}\p{N}_]+):([^>]+)>/gu
test('extra networks: cut from the text as before, and 20,000 unclosed "<a:" take no time (were 7 s)', () => {
  fc.assert(fc.property(fc.array(fc.constantFrom('<', '>', 'emb', ':', 'x', '0.5', ' ', '='), { maxLength: 20 }).map((a) => a.join('')), (p) => {
    assert.equal(parseExtraNetworks(p).text, p.replace(EXTRA_NET_RE, ''), JSON.stringify(p))
  }), { numRuns: 2000, seed: 4 })
  within(500, () => parseExtraNetworks('<a:'.repeat(20_000)))
})

test('prompt editing: thousands of unclosed brackets stay verbatim within a work budget; long flat prompts do not overflow', () => {
  for (const p of ['[a:'.repeat(20_000), '('.repeat(30_000) + 'x']) {
    within(3000, () => assert.deepEqual(promptSchedule(p, { steps: 10 }), [{ endAtStep: 10, text: p }]))
  }
  const flat = `(${'a()'.repeat(150_000)})`
  assert.equal(promptSchedule(flat, { steps: 10 })[0].text, flat)
  assert.deepEqual(promptSchedule(`${'('.repeat(250)}[a:b:5]${')'.repeat(250)}`, { steps: 10 }).map((e) => e.endAtStep), [5, 10])
})

test('tokenizer: the BPE cache stays bounded under endless distinct words', () => {
  const tok = createClipTokenizer(TOKENIZER_DIR)
  for (let i = 0; i < BPE_CACHE_LIMIT + 500; i++) tok.encode(`w${i.toString(36)}x`)
  const size = tok.cacheSize?.() ?? Infinity
  assert.ok(size <= BPE_CACHE_LIMIT, `cache holds ${size}`)
})

test('pickle: _rebuild_tensor_v2 called with the storage alone says the offset is missing', () => {
  const bytes = Buffer.from(`\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(${str('storage')}ctorch\nFloatStorage\n${str('0')}${str('cpu')}K\x01tQ\x85R.`, 'latin1')
  assert.throws(() => unpickle(bytes, { file: 'r.ckpt', what: 'data.pkl', persistentLoad: storagePersistentLoad(new Map()) }), { name: 'TensorFileError',
    message: 'r.ckpt: data.pkl: byte 78: _rebuild_tensor: called without a storage offset (expected storage, offset, size, stride)' })
})

test('pickle: a storage offset that is not a number is named by its type, not "[object Object]"', () => {
  const bytes = Buffer.from(`\x80\x02}(${str('t')}ctorch._utils\n_rebuild_tensor_v2\n((${str('storage')}ctorch\nFloatStorage\n${str('0')}${str('cpu')}K\x01tQ`
    + '}(K\x01t(K\x01t\x89)tRu.', 'latin1')
  const storages = new Map<string, TorchStorage>()
  assert.throws(() => unpickle(bytes, { file: 'o.ckpt', what: 'data.pkl', persistentLoad: storagePersistentLoad(storages) }), {
    name: 'TensorFileError', message: /^o\.ckpt: data\.pkl: byte \d+: _rebuild_tensor: storage offset \(a dict\) is not a non-negative integer$/ })
})

test('pickle: a 1-byte (bool) broadcast view is bounded by its float32 size, not its stored size', async () => {
  // 65536 × 1024 bools with stride 0 are 64 MiB stored but 256 MiB once widened to float32 (found by the fuzzer).
  const bytes = Buffer.from(`\x80\x02}(${str('t0')}ctorch._utils\n_rebuild_tensor_v2\n((${str('storage')}ctorch\nBoolStorage\n${str('1')}${str('cpu')}K\x06tQK\x00`
    + '(J\x00\x00\x01\x00J\x00\x04\x00\x00t(K\x00K\x00t\x89)tRu.', 'latin1')
  const storages = new Map<string, TorchStorage>()
  const { value } = unpickle(bytes, { file: 'b.ckpt', what: 'data.pkl', persistentLoad: storagePersistentLoad(storages) })
  assert.throws(() => buildSource('b.ckpt', value, pickleStore), { name: 'TensorFileError',
    message: 'b.ckpt: tensor "t0": size [65536, 1024] with stride [0, 0] repeats the 6 elements of storage "1" (a stride of 0 or overlapping '
      + 'strides): reading it would materialise 268435456 bytes, above the 67108864-byte limit. Hint: re-save the tensor with .contiguous()' })
})
