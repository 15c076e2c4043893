import type { DType } from '../core/dtype.ts'

/** Where one tensor lives, known from the file's header alone. */
export interface TensorInfo {
  readonly dtype: DType
  readonly shape: readonly number[]
  /** Byte length of the tensor's data as `readRaw` gives it (as stored, unless `stored` says otherwise). */
  readonly byteLength: number
  /**
   * How the file stores it when that is not `dtype` (GGUF block quantization such as Q8_0, which readers dequantize
   * to float32): the type's name and its stored byte length, for reports.
   */
  readonly stored?: { readonly type: string; readonly byteLength: number }
}

/**
 * A lazy state dict: names, dtypes and shapes are known up front; tensor bytes are read on demand.
 * Every model file format (safetensors, pickle .ckpt) opens as one of these.
 */
export interface TensorSource {
  readonly file: string
  readonly format: 'safetensors' | 'pickle' | 'gguf'
  /**
   * `__metadata__` of safetensors files; GGUF key/values as strings (long arrays summarised); for pickles, the non-tensor leaves (str, int, float, bool) as strings under
   * their dotted path (an A1111 embedding: `name`, `step`, `string_to_token.*`).
   */
  readonly metadata: Readonly<Record<string, string>>
  /** Tensor names in file order. */
  keys(): readonly string[]
  has(key: string): boolean
  /** Throws TensorFileError naming the key when absent. */
  info(key: string): TensorInfo
  /** The tensor converted to float32 (fresh array the caller owns). */
  readF32(key: string): Promise<Float32Array>
  /** The stored bytes, little-endian, contiguous. */
  readRaw(key: string): Promise<Uint8Array>
  /**
   * readRaw into the start of a caller-owned buffer (at least `info(key).byteLength` long), returning that prefix:
   * a loader that converts as it reads reuses one buffer instead of faulting in a fresh one per tensor.
   * Only where the stored bytes are read as they are (safetensors).
   */
  readRawInto?(key: string, dst: Uint8Array): Promise<Uint8Array>
  /**
   * The stored bytes as a read-only view of the memory-mapped file (no copy, valid after close), or undefined where
   * the file cannot be mapped. Only where the stored bytes are the tensor as it is (safetensors).
   */
  storedView?(key: string): Uint8Array | undefined
  close(): Promise<void>
}
