/*
 * ggml tensor types a GGUF file may hold, and the block dequantizers of the ones sdloom reads
 * (ggml/src/ggml-quants.c dequantize_row_*; ggml/src/ggml-common.h block layouts; QK = 32 values per block):
 *   Q8_0 { f16 d; i8 qs[32] }                        y[j] = qs[j]·d                                  34 bytes
 *   Q4_0 { f16 d; u8 qs[16] }                        y[j] = ((qs[j] & 15) − 8)·d, y[j+16] = ((qs[j] >> 4) − 8)·d   18 bytes
 *   Q4_1 { f16 d; f16 m; u8 qs[16] }                 y[j] = (qs[j] & 15)·d + m, y[j+16] = (qs[j] >> 4)·d + m       20 bytes
 *   Q5_0 { f16 d; u32 qh; u8 qs[16] }                5th bit of y[j] = bit j of qh, of y[j+16] = bit j+16; value − 16, ·d   22 bytes
 *   Q5_1 { f16 d; f16 m; u32 qh; u8 qs[16] }         as Q5_0 without the − 16, then ·d + m                          24 bytes
 * Each product is rounded to float32 as ggml's C does (int · float, then + m for the _1 types).
 */
import { f16Table } from '../core/f16.ts'

export const QK = 32

export interface GgmlType {
  readonly name: string
  /** Values per block (1 for plain types). */
  readonly blockSize: number
  /** Bytes per block. */
  readonly typeSize: number
}

/** ggml_type ids (ggml.h); only those with a dequantizer below (or a plain layout) are readable. */
export const GGML_TYPES: Readonly<Record<number, GgmlType>> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: QK, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: QK, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: QK, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: QK, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: QK, typeSize: 34 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
}

/** Names of known ggml types sdloom cannot dequantize, for the error message (k-quants, i-quants, …). */
export const GGML_UNSUPPORTED: Readonly<Record<number, string>> = {
  9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS',
  18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32',
  27: 'I64', 28: 'F64', 29: 'IQ1_M', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
}

export type QuantName = 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0'

/** Dequantizes `count` values (a multiple of 32) from `bytes` into a fresh float32 array. */
export function dequantize(type: QuantName, bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count)
  const t = f16Table()
  const half = (o: number): number => t[bytes[o] | (bytes[o + 1] << 8)]
  const size = GGML_TYPES[TYPE_IDS[type]].typeSize
  for (let b = 0, o = 0, y = 0; y < count; b++, o = b * size, y += QK) {
    const d = half(o)
    switch (type) {
      case 'Q8_0':
        for (let j = 0; j < QK; j++) out[y + j] = ((bytes[o + 2 + j] << 24) >> 24) * d
        break
      case 'Q4_0': case 'Q4_1': {
        const m = type === 'Q4_1' ? half(o + 2) : 0
        const qs = o + (type === 'Q4_1' ? 4 : 2)
        const bias = type === 'Q4_0' ? 8 : 0
        for (let j = 0; j < 16; j++) {
          out[y + j] = Math.fround(((bytes[qs + j] & 15) - bias) * d) + m
          out[y + j + 16] = Math.fround(((bytes[qs + j] >> 4) - bias) * d) + m
        }
        break
      }
      case 'Q5_0': case 'Q5_1': {
        const m = type === 'Q5_1' ? half(o + 2) : 0
        const h = o + (type === 'Q5_1' ? 4 : 2)
        const qh = (bytes[h] | (bytes[h + 1] << 8) | (bytes[h + 2] << 16) | (bytes[h + 3] << 24)) >>> 0
        const qs = h + 4
        const bias = type === 'Q5_0' ? 16 : 0
        for (let j = 0; j < 16; j++) {
          const x0 = ((bytes[qs + j] & 15) | (((qh >>> j) << 4) & 16)) - bias
          const x1 = ((bytes[qs + j] >> 4) | ((qh >>> (j + 12)) & 16)) - bias
          out[y + j] = Math.fround(x0 * d) + m
          out[y + j + 16] = Math.fround(x1 * d) + m
        }
        break
      }
    }
  }
  return out
}

const TYPE_IDS: Readonly<Record<QuantName, number>> = { Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8 }

export const isQuantName = (n: string): n is QuantName => Object.hasOwn(TYPE_IDS, n)
