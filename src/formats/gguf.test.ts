import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTensorFile } from './open.ts'
import { f16Table, floatToHalf } from '../core/f16.ts'
import { writeGguf, type GgufFixtureType } from '../../test/fixtures/gguf-writer.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-gguf-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** Seeded values in [-scale, scale) with an offset, so the _1 types' minimum matters. */
function source(n: number, seed: number, offset = 0): Float32Array {
  let s = seed
  return Float32Array.from({ length: n }, () => { s = (s * 1103515245 + 12345) >>> 0; return (s / 2 ** 32 * 2 - 1) * 0.5 + offset })
}

/**
 * Worst error the format's rounding allows per block of 32: half a step for the rounded types (plus the f16 rounding
 * of d times the largest code and of m), a whole step for Q4_0/Q5_0, whose extreme code on the far side is clamped.
 */
function bound(type: GgufFixtureType, block: Float32Array): number {
  const h = (v: number) => Math.abs(f16Table()[floatToHalf(v)] - v)
  const amax = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  const [min, max] = [Math.min(...block), Math.max(...block)]
  switch (type) {
    case 'F32': return 0
    case 'F16': return amax * 2 ** -11
    case 'BF16': return amax * 2 ** -8
    case 'Q8_0': return amax / 127 / 2 + h(amax / 127) * 128
    case 'Q4_0': return amax / 8 + h(amax / 8) * 16
    case 'Q5_0': return amax / 16 + h(amax / 16) * 32
    case 'Q4_1': return (max - min) / 15 / 2 + h((max - min) / 15) * 16 + h(min)
    case 'Q5_1': return (max - min) / 31 / 2 + h((max - min) / 31) * 32 + h(min)
  }
}

const TYPES: readonly GgufFixtureType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1']

test('GGUF v3 tensors of every supported type load to their float source within the format\'s rounding', async () => {
  const file = join(dir, 'model.gguf')
  const tensors = TYPES.map((type, i) => ({
    name: `model.diffusion_model.t${i}.weight`, type, shape: [3, 2, 64], data: source(384, i + 1, type.endsWith('_1') ? 0.3 : 0),
  }))
  await writeGguf(file, [...tensors, { name: 'model.diffusion_model.bias', type: 'F32', shape: [5], data: source(5, 99) }],
    { 'general.architecture': 'stable-diffusion', 'general.file_type': 7, 'tokenizer.ggml.tokens': Array.from({ length: 70 }, (_, i) => `t${i}`) }, 64)
  const src = await openTensorFile(file)
  try {
    assert.equal(src.format, 'gguf')
    assert.equal(src.metadata['general.architecture'], 'stable-diffusion')
    assert.equal(src.metadata['general.file_type'], '7')
    assert.equal(src.metadata['tokenizer.ggml.tokens'], '[70 × string]')
    assert.equal(src.metadata['general.alignment'], '64')
    assert.deepEqual(src.keys(), [...tensors.map((t) => t.name), 'model.diffusion_model.bias'])
    for (const t of tensors) {
      const info = src.info(t.name)
      assert.deepEqual(info.shape, [3, 2, 64], t.name)
      assert.equal(info.stored?.type ?? info.dtype, t.type)
      const got = await src.readF32(t.name)
      for (let b = 0; b < got.length; b += 32) {
        const block = t.data.subarray(b, b + 32)
        const tol = bound(t.type, block) * (1 + 1e-6) + 1e-9
        for (let j = 0; j < 32; j++) assert.ok(Math.abs(got[b + j] - block[j]) <= tol, `${t.type}[${b + j}]: ${got[b + j]} vs ${block[j]} (bound ${tol})`)
      }
      // readRaw matches info(): stored bytes for plain types, dequantized float32 bytes otherwise
      assert.equal((await src.readRaw(t.name)).byteLength, info.byteLength)
    }
    assert.deepEqual([...await src.readF32('model.diffusion_model.bias')], [...source(5, 99)])
  } finally { await src.close() }
})

test('GGUF Q8_0 codes and Q5_0 fifth bits decode as ggml lays them out', async () => {
  // one hand-built block each, independent of the fixture's quantizer
  const d = floatToHalf(0.5)
  const q8 = [d & 255, d >> 8, ...Array.from({ length: 32 }, (_, j) => (j - 16) & 255)]
  const qh = 0x80000001                                         // bit 0 → value 0's fifth bit, bit 31 → value 31's
  const q5 = [d & 255, d >> 8, qh & 255, (qh >>> 8) & 255, (qh >>> 16) & 255, qh >>> 24, ...new Array<number>(16).fill(0x21)]
  const dir2 = join(dir, 'hand')
  await writeFile(dir2, Buffer.concat([await header([['a', 8], ['b', 6]]), pad(Uint8Array.from(q8)), Uint8Array.from(q5)]))
  const src = await openTensorFile(dir2)
  try {
    assert.deepEqual([...await src.readF32('a')], Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5))
    const b = [...await src.readF32('b')]
    assert.deepEqual(b, Array.from({ length: 32 }, (_, j) => ((j < 16 ? 1 : 2) + (j === 0 || j === 31 ? 16 : 0) - 16) * 0.5))
  } finally { await src.close() }
})

const pad = (b: Uint8Array): Uint8Array => Buffer.concat([b, new Uint8Array((32 - (b.length % 32)) % 32)])

/** A GGUF header for [name, ggml type] tensors of 32 values each, laid out one after another (32-aligned). */
async function header(tensors: [string, number, number?][]): Promise<Uint8Array> {
  const parts: number[] = [...Buffer.from('GGUF')]
  const u32 = (v: number) => parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24)
  const u64 = (v: number) => { u32(v); u32(0) }
  u32(3); u64(tensors.length); u64(0)
  let offset = 0
  for (const [name, type, at] of tensors) {
    u64(name.length); parts.push(...Buffer.from(name)); u32(1); u64(32); u32(type); u64(at ?? offset)
    offset += Math.ceil((type === 8 ? 34 : 22) / 32) * 32
  }
  return pad(Uint8Array.from(parts))
}

test('bad GGUF headers are TensorFileErrors naming the field and what the file can hold', async () => {
  const good = await readFile(join(dir, 'model.gguf')).catch(() => undefined)
  assert.ok(good, 'the first test wrote model.gguf')
  const rejects = async (name: string, bytes: Uint8Array, message: string) => {
    await writeFile(join(dir, name), bytes)
    await assert.rejects(openTensorFile(join(dir, name)), { name: 'TensorFileError', message: `${name}: ${message}` })
  }
  const edit = (f: (dv: DataView) => void) => { const b = Uint8Array.from(good); f(new DataView(b.buffer)); return b }
  await rejects('v1.gguf', edit((dv) => dv.setUint32(4, 1, true)), 'GGUF version 1 (32-bit counts) is not supported. Hint: re-save it with a current ggml tool.')
  await rejects('be.gguf', edit((dv) => dv.setUint32(4, 0x03000000, true)), 'is a big-endian GGUF file; sdloom reads little-endian GGUF')
  await rejects('count.gguf', edit((dv) => dv.setBigUint64(8, 1n << 40n, true)), `tensor_count is ${1n << 40n}, more than the ${Math.floor(good.length / 24)} the ${good.length}-byte file can hold`)
  await rejects('trunc.gguf', good.subarray(0, 400), 'length of metadata array "tokenizer.ggml.tokens" is 70, more than the 30 the 400-byte file can hold')
  await rejects('trunc2.gguf', (await header([['x', 8]])).subarray(0, 40), 'file is truncated: dimension 0 of tensor "x" at offset 37 needs 8 bytes, the file has 3 left')
  await rejects('short.gguf', good.subarray(0, good.length - 10), 'tensor "model.diffusion_model.bias": data [' + (good.length - 20) + ', ' + good.length + ') runs past the end of the ' + (good.length - 10) + '-byte file; the file may be truncated')
  await rejects('k.gguf', await header([['x', 12]]), 'tensor "x": ggml type Q4_K is not supported; sdloom reads F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16. Hint: convert the model again with stable-diffusion.cpp (`sd -M convert --type q8_0`) or use the .safetensors original.')
  await rejects('align.gguf', Buffer.concat([await header([['x', 8, 3]]), new Uint8Array(64)]), 'tensor "x": data offset 3 is not a multiple of the alignment 32')
  await rejects('dup.gguf', Buffer.concat([await header([['x', 8], ['x', 8]]), new Uint8Array(128)]), 'tensor "x": appears twice in the GGUF header')
  await rejects('overlap.gguf', Buffer.concat([await header([['x', 8], ['y', 8, 32]]), new Uint8Array(128)]),
    'tensor "y": data at 128 overlaps tensor "x" (which ends at 130)')
})
