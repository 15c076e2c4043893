/*
 * `--weights int8` straight from the stored bytes: each output channel is widened into one reused row buffer and
 * quantized from it, so loading a fp16 (or bf16, fp8) checkpoint never makes a float32 copy of a whole tensor. Fresh
 * memory is then 1 byte per value instead of 4 + 1, which on this machine is most of the load time (page faults of
 * fresh arrays cost more than the conversion: BENCHMARKS.md "int8 / load time (session 5)"). The codes and scales
 * equal quantizeRows(readF32(key)) bit for bit: the same float32 values meet the same per-row arithmetic.
 */
import { DTYPE_BYTES, type DType } from '../core/dtype.ts'
import { decodeInto } from '../formats/to-f32.ts'
import { quantizeRow, type Int8Weight } from '../graph/int8-weights.ts'

/** The stored dtypes quantized a row at a time (every float dtype a checkpoint stores Linear/Conv weights in). */
export const isRowQuantizable = (d: DType): boolean => d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F8_E4M3' || d === 'F8_E5M2'

/** Symmetric per-output-channel int8 of a weight given as its stored bytes (`shape[0]` rows). */
export function quantizeStored(dtype: DType, bytes: Uint8Array, shape: readonly number[]): Int8Weight {
  const count = shape.reduce((a, b) => a * b, 1)
  const rows = shape[0]
  const cols = count / rows
  const width = DTYPE_BYTES[dtype]
  if (bytes.byteLength !== count * width) throw new RangeError(`quantizeStored: ${bytes.byteLength} bytes for ${count} ${dtype} values`)
  const q = new Int8Array(count)
  const scale = new Float32Array(rows)
  const row = new Float32Array(cols)
  for (let r = 0; r < rows; r++) {
    decodeInto(dtype, bytes.subarray(r * cols * width, (r + 1) * cols * width), row)
    scale[r] = quantizeRow(row, q, r * cols)
  }
  return { q, scale }
}
