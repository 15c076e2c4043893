/** safetensors dtype names; the pickle reader maps torch storage types onto these too. */
export const DTYPE_BYTES = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
} as const satisfies Record<string, number>

export type DType = keyof typeof DTYPE_BYTES

export const isDType = (s: unknown): s is DType => typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s)

export const isFloatDType = (d: DType): boolean => d.startsWith('F') || d === 'BF16'
