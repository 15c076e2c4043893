/*
 * Weight-only int8: a weight kept as int8 codes with one float32 scale per output channel (symmetric, per torch's
 * axis 0) is fed to a graph as two inputs, the codes under the checkpoint key and the scales under `scaleInputName`,
 * and turned back into float32 by a DequantizeLinear right where it is used. Memory holds a quarter of the float32
 * bytes; each run pays one dequantization per weight (BENCHMARKS.md "int8 weights").
 */

/** int8 codes [out, …] and per-output-channel scales [out]: value = code × scale. */
export interface Int8Weight {
  readonly q: Int8Array
  readonly scale: Float32Array
}

/** The graph input that carries a quantized weight's scales. */
export const scaleInputName = (key: string): string => `${key}#scale`

/**
 * The graph input that carries a weight's codes + 128 as uint8 (what onnxruntime's ConvInteger takes, with zero point
 * 128), for integer-kernel graphs (graph/ops.ts useIntegerKernels). Flipped once when first fed, not in every run:
 * an in-graph BitwiseXor took 8% of a w8a8 SD1.5 step.
 */
export const excessInputName = (key: string): string => `${key}#u8`

/** code + 128 as uint8: the sign bit flipped. */
export function excess128(q: Int8Array): Uint8Array {
  const out = new Uint8Array(q.length)
  const src = new Uint8Array(q.buffer, q.byteOffset, q.length)
  for (let i = 0; i < out.length; i++) out[i] = src[i] ^ 0x80
  return out
}

/** Symmetric per-output-channel int8 of `w` (rows = shape[0]): scale = max|row| / 127, code = round(w / scale). */
export function quantizeRows(w: Float32Array, rows: number): Int8Weight {
  const cols = w.length / rows
  const q = new Int8Array(w.length)
  const scale = new Float32Array(rows)
  for (let r = 0; r < rows; r++) scale[r] = quantizeRow(w.subarray(r * cols, (r + 1) * cols), q, r * cols)
  return { q, scale }
}

/**
 * Quantizes one output channel's values into `q` from index `at` and returns its scale. Loaders that widen a
 * stored row at a time (models/int8-load.ts) call it directly, so their codes equal quantizeRows' bit for bit.
 */
export function quantizeRow(row: Float32Array, q: Int8Array, at: number): number {
  let amax = 0
  for (let i = 0; i < row.length; i++) { const a = Math.abs(row[i]); if (a > amax) amax = a }
  // An all-zero row keeps scale 1 so the codes (all 0) still dequantize to exact zeros.
  const s = amax > 0 ? amax / 127 : 1
  const inv = 1 / s
  for (let i = 0; i < row.length; i++) q[at + i] = Math.round(row[i] * inv)
  return s
}

/** float32 values of a quantized weight (what DequantizeLinear computes), for code that needs them on the host. */
export function dequantizeRows(w: Int8Weight): Float32Array {
  const rows = w.scale.length
  const cols = w.q.length / rows
  const out = new Float32Array(w.q.length)
  for (let r = 0; r < rows; r++) {
    const s = w.scale[r]
    for (let i = r * cols; i < (r + 1) * cols; i++) out[i] = w.q[i] * s
  }
  return out
}
