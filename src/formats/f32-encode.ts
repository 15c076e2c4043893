/**
 * float32 → F32/F16/BF16 bytes in bulk, rounding to nearest even (as torch's `.half()` / `.bfloat16()`).
 * Loops over a Uint32Array view with core/f16.ts's bit-level converters (the per-value floatToHalf / floatToBf16 go
 * through a DataView per call, too slow for a multi-gigabyte conversion).
 */
import { f32BitsToBf16, f32BitsToHalf } from '../core/f16.ts'

/** Little-endian bytes of `data` stored as `dtype`; always a fresh array. */
export function encodeF32As(dtype: 'F32' | 'F16' | 'BF16', data: Float32Array): Uint8Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  if (dtype === 'F32') return new Uint8Array(bits.slice().buffer)
  const out = new Uint16Array(data.length)
  const conv = dtype === 'F16' ? f32BitsToHalf : f32BitsToBf16
  for (let i = 0; i < bits.length; i++) out[i] = conv(bits[i])
  return new Uint8Array(out.buffer)
}
