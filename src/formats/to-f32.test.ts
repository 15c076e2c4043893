import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bytesToF32 } from './to-f32.ts'
import type { DType } from '../core/dtype.ts'

/** Little-endian 16-bit patterns → bytes. */
const u16 = (...v: number[]): Uint8Array => new Uint8Array(new Uint16Array(v).buffer)
const conv = (dtype: DType, bytes: Uint8Array, n: number): number[] => [...bytesToF32(dtype, bytes, n)]

test('F16 bit patterns: 1, -2, max normal, min subnormal, min normal, ±inf, NaN, -0', () => {
  const got = conv('F16', u16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555), 10)
  assert.deepEqual(got.slice(0, 8), [1, -2, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity, NaN])
  assert.ok(Object.is(got[8], -0))
  assert.equal(got[9], Math.fround(1 / 4 + 0x155 / 1024 / 4)) // 0x3555: e=13 → 2^-2 × (1 + 341/1024)
})

test('BF16 bit patterns are the top half of a float32', () => {
  assert.deepEqual(conv('BF16', u16(0x3f80, 0xc040, 0x7f80, 0x0001, 0x4049), 5),
    [1, -3, Infinity, 2 ** -133, Math.fround(3.140625)])
  assert.ok(Number.isNaN(conv('BF16', u16(0x7fc0), 1)[0]))
})

test('F8_E4M3 (fn): bias 7, no infinities, 0x7f/0xff NaN', () => {
  const got = conv('F8_E4M3', new Uint8Array([0x38, 0x7e, 0x01, 0x08, 0xb8, 0x3c, 0x7f, 0xff, 0x80]), 9)
  assert.deepEqual(got.slice(0, 8), [1, 448, 2 ** -9, 2 ** -6, -1, 1.5, NaN, NaN])
  assert.ok(Object.is(got[8], -0))
})

test('F8_E5M2: bias 15 with IEEE infinities and NaN', () => {
  const got = conv('F8_E5M2', new Uint8Array([0x3c, 0x7b, 0x01, 0x7c, 0xfc, 0x7d, 0xc0, 0x3e]), 8)
  assert.deepEqual(got, [1, 57344, 2 ** -16, Infinity, -Infinity, NaN, -2, 1.5])
})

test('F64 and F32 round through float32', () => {
  const f64 = new Uint8Array(new Float64Array([1 / 3, -1e300, 2.5]).buffer)
  assert.deepEqual(conv('F64', f64, 3), [Math.fround(1 / 3), -Infinity, 2.5])
  const f32 = new Uint8Array([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]) // 1, -2
  assert.deepEqual(conv('F32', f32, 2), [1, -2])
})

test('integers: signed, unsigned, 64-bit and BOOL', () => {
  assert.deepEqual(conv('I8', new Uint8Array([0xff, 0x7f, 0x80]), 3), [-1, 127, -128])
  assert.deepEqual(conv('U8', new Uint8Array([0xff, 0x00]), 2), [255, 0])
  assert.deepEqual(conv('BOOL', new Uint8Array([1, 0]), 2), [1, 0])
  assert.deepEqual(conv('I16', u16(0xffff, 0x8000), 2), [-1, -32768])
  assert.deepEqual(conv('U16', u16(0xffff), 1), [65535])
  assert.deepEqual(conv('I32', new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00]), 2), [-2, 65536])
  assert.deepEqual(conv('U32', new Uint8Array([0xff, 0xff, 0xff, 0xff]), 1), [4294967296])
  const i64 = new Uint8Array(16)
  new DataView(i64.buffer).setBigInt64(0, -5n, true)
  new DataView(i64.buffer).setBigInt64(8, 76n, true)
  assert.deepEqual(conv('I64', i64, 2), [-5, 76])
  assert.deepEqual(conv('U64', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1), [2 ** 64])
})

test('a byte count that does not match the element count is refused', () => {
  assert.throws(() => bytesToF32('F16', new Uint8Array(3), 2), { message: 'bytesToF32: 3 bytes for 2 F16 values (expected 4)' })
})

test('widenInPlace gives bytesToF32\'s values for every narrow float dtype, with the stored bytes at the tail', async () => {
  const { widenInPlace } = await import('./to-f32.ts')
  for (const dtype of ['F16', 'BF16', 'F8_E4M3', 'F8_E5M2'] as const) {
    const width = dtype.startsWith('F8') ? 1 : 2
    const count = 1000
    const stored = Uint8Array.from({ length: count * width }, (_, i) => (i * 2654435761) >>> 24)
    const out = new Float32Array(count)
    new Uint8Array(out.buffer).set(stored, count * (4 - width))
    widenInPlace(dtype, out, count)
    assert.deepEqual([...out], [...bytesToF32(dtype, stored, count)], dtype)
  }
})
