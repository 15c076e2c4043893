/**
 * float32 → F32/F16/BF16 bytes in bulk, rounding to nearest even (as torch's `.half()` / `.bfloat16()`).
 * Bit-level loops over a Uint32Array view: core/f16.ts has the per-value versions, which allocate per call and are
 * too slow for a multi-gigabyte conversion; the tests check both agree.
 */
function toHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  let e = exp - 127 + 15
  if (e >= 31) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    let r = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    if (rem > half || (rem === half && (r & 1))) r++
    return sign | r
  }
  let r = mant >>> 13
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) { r++; if (r === 0x400) { r = 0; e++ } }
  if (e >= 31) return sign | 0x7c00
  return sign | (e << 10) | r
}

function toBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff
}

/** Little-endian bytes of `data` stored as `dtype`; always a fresh array. */
export function encodeF32As(dtype: 'F32' | 'F16' | 'BF16', data: Float32Array): Uint8Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  if (dtype === 'F32') return new Uint8Array(bits.slice().buffer)
  const out = new Uint16Array(data.length)
  const conv = dtype === 'F16' ? toHalfBits : toBf16Bits
  for (let i = 0; i < bits.length; i++) out[i] = conv(bits[i])
  return new Uint8Array(out.buffer)
}
