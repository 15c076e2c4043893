import { test } from 'node:test'
import assert from 'node:assert/strict'
import { f16Table, floatToBf16, floatToHalf } from './f16.ts'

// Round to nearest even, checked against the formats' own value sequences rather than the converters' bit tricks:
// for adjacent codes a < a + 1 of the same sign, the exact float32 midpoint goes to the even code, and the float32
// values just below / above it go to a / a + 1. The code after the largest finite one is infinity (overflow).
const f32 = new Float32Array(1)
const bits = new Uint32Array(f32.buffer)
const fromBits = (b: number): number => { bits[0] = b; return f32[0] }
const bitsOf = (v: number): number => { f32[0] = v; return bits[0] }

function checkRounding(encode: (v: number) => number, midpointBits: (a: number) => number, lastFinite: number): void {
  for (let a = 0; a <= lastFinite; a++) {
    const mid = midpointBits(a)
    const even = a % 2 === 0 ? a : a + 1
    const got = [encode(fromBits(mid - 1)), encode(fromBits(mid)), encode(fromBits(mid + 1))]
    if (got[0] !== a || got[1] !== even || got[2] !== a + 1) {
      assert.deepEqual(got, [a, even, a + 1], `around the midpoint of codes 0x${a.toString(16)} and 0x${(a + 1).toString(16)}`)
    }
    const v = fromBits(mid - 1)
    if (encode(-v) !== (a | 0x8000)) assert.equal(encode(-v), a | 0x8000, `sign of -${v}`)
  }
}

test('floatToHalf: every half value maps back to its own code', () => {
  const table = f16Table()
  for (let h = 0; h < 0x10000; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0
    if (!isNaN && floatToHalf(table[h]) !== h) assert.equal(floatToHalf(table[h]), h, `half 0x${h.toString(16)}`)
  }
})

test('floatToHalf rounds to nearest even between every pair of adjacent halves, overflowing to infinity', () => {
  const table = f16Table()
  // 0x7bff is the largest finite half (65504); the next code, 0x7c00, stands for 65536 (then infinity)
  const value = (code: number): number => (code === 0x7c00 ? 65536 : table[code])
  checkRounding(floatToHalf, (a) => bitsOf((value(a) + value(a + 1)) / 2), 0x7bff)
  assert.equal(floatToHalf(Infinity), 0x7c00)
  assert.equal(floatToHalf(-Infinity), 0xfc00)
  assert.equal(floatToHalf(NaN) & 0x7c00, 0x7c00)
  assert.notEqual(floatToHalf(NaN) & 0x3ff, 0)
})

test('floatToBf16 keeps the top half of the float32 bits, rounding to nearest even', () => {
  // a bf16 code is the top 16 bits of a float32, so the midpoint of codes a and a + 1 has bits (a << 16) + 0x8000
  checkRounding(floatToBf16, (a) => a * 0x10000 + 0x8000, 0x7f7f)
  for (let h = 0; h < 0x7f80; h += 7) assert.equal(floatToBf16(fromBits(h * 0x10000)), h)
  assert.equal(floatToBf16(Infinity), 0x7f80)
  const nan = floatToBf16(NaN)
  assert.ok((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0, `NaN stays NaN, got 0x${nan.toString(16)}`)
})
