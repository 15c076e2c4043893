/** Conversions of narrow float formats to float32, by table where the format is 8 or 16 bits wide. */

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? NaN : s * Infinity
  return s * (1 + m / 1024) * 2 ** (e - 15)
}

let halfTable: Float32Array | undefined
/** All 65,536 half-precision values as float32 (256 KiB, built once). */
export function f16Table(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536)
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i)
  }
  return halfTable
}

/** F8 E4M3 (fn variant: no infinities, 0x7f/0xff = NaN, bias 7), as torch.float8_e4m3fn. */
function e4m3ToFloat(b: number): number {
  const s = b & 0x80 ? -1 : 1
  const e = (b >> 3) & 0xf
  const m = b & 0x7
  if (e === 15 && m === 7) return NaN
  if (e === 0) return s * m * 2 ** -9
  return s * (1 + m / 8) * 2 ** (e - 7)
}

/** F8 E5M2 (IEEE-like, bias 15), as torch.float8_e5m2. */
function e5m2ToFloat(b: number): number {
  return halfToFloat(b << 8)
}

const f8Tables = new Map<string, Float32Array>()
export function f8Table(kind: 'F8_E4M3' | 'F8_E5M2'): Float32Array {
  let t = f8Tables.get(kind)
  if (!t) {
    t = new Float32Array(256)
    for (let i = 0; i < 256; i++) t[i] = kind === 'F8_E4M3' ? e4m3ToFloat(i) : e5m2ToFloat(i)
    f8Tables.set(kind, t)
  }
  return t
}

/**
 * float32 bits (as a Uint32Array view gives them) → IEEE half bits, round to nearest even (as torch's .half()).
 * Bit-level, so bulk encoders (formats/f32-encode.ts) run it over a Uint32Array view without a per-value conversion.
 */
export function f32BitsToHalf(x: number): number {
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

/** float32 bits → bfloat16 bits, round to nearest even (as torch's .bfloat16()); NaN stays a quiet NaN. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff
}

const scratch = new DataView(new ArrayBuffer(4))
const f32Bits = (f: number): number => { scratch.setFloat32(0, f); return scratch.getUint32(0) }

/** float32 → IEEE half bits, round to nearest even (as torch's .half()). */
export const floatToHalf = (f: number): number => f32BitsToHalf(f32Bits(f))

/** float32 → bfloat16 bits, round to nearest even (as torch's .bfloat16()). */
export const floatToBf16 = (f: number): number => f32BitsToBf16(f32Bits(f))
