/*
 * GGUF reader (the header spec is quoted in gguf-header.ts): the files stable-diffusion.cpp users have
 * (`sd -M convert`), whose tensor names are the checkpoint's own (`model.diffusion_model.…`). F32, F16 and BF16
 * tensors read as stored; Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 are dequantized to float32 on read, so they report dtype
 * F32 (and TensorInfo.stored names the block type) and `readRaw` gives the dequantized float32 bytes.
 */
import type { FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'
import type { DType } from '../core/dtype.ts'
import type { TensorInfo, TensorSource } from './tensor-source.ts'
import { readExactly } from './file-io.ts'
import { bytesToF32 } from './to-f32.ts'
import { NeedMoreBytes, parseGgufHeader, type GgufHeader, type GgufTensor } from './gguf-header.ts'
import { dequantize, isQuantName } from './gguf-quant.ts'

/** Headers above this size are refused (the same limit as safetensors headers). */
export const MAX_GGUF_HEADER_BYTES = 100_000_000
const FIRST_READ = 1 << 20

/** Reads the header, starting with 1 MB and reading more while it continues (up to MAX_GGUF_HEADER_BYTES). */
export async function readGgufHeader(file: string, fh: FileHandle, size: number): Promise<GgufHeader> {
  for (let n = Math.min(size, FIRST_READ); ; n = Math.min(size, n * 4)) {
    try {
      return parseGgufHeader(file, await readExactly(fh, file, n, 0), size)
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e
      if (n >= MAX_GGUF_HEADER_BYTES) throw new TensorFileError(file, undefined, `GGUF header is larger than the ${MAX_GGUF_HEADER_BYTES}-byte limit (at ${e.what})`)
    }
  }
}

/** Opens a GGUF file on an already open handle (formats/open.ts detects the magic). */
export async function openGguf(file: string, fh: FileHandle, size: number): Promise<GgufSource> {
  return new GgufSource(file, fh, await readGgufHeader(file, fh, size))
}

const PLAIN: Readonly<Record<string, DType>> = { F32: 'F32', F16: 'F16', BF16: 'BF16' }

export class GgufSource implements TensorSource {
  readonly format = 'gguf' as const
  constructor(readonly file: string, private readonly fh: FileHandle, readonly header: GgufHeader) {}
  get metadata(): Readonly<Record<string, string>> { return this.header.metadata }
  keys(): readonly string[] { return [...this.header.tensors.keys()] }
  has(key: string): boolean { return this.header.tensors.has(key) }

  private tensor(key: string): GgufTensor {
    const t = this.header.tensors.get(key)
    if (!t) throw new TensorFileError(this.file, key, 'no such tensor in this file')
    return t
  }

  info(key: string): TensorInfo {
    const t = this.tensor(key)
    const plain = PLAIN[t.type.name]
    if (plain) return { dtype: plain, shape: t.shape, byteLength: t.byteLength }
    return { dtype: 'F32', shape: t.shape, byteLength: t.count * 4, stored: { type: t.type.name, byteLength: t.byteLength } }
  }

  /** Stored bytes for F32/F16/BF16; the dequantized float32 bytes for block-quantized tensors. */
  async readRaw(key: string): Promise<Uint8Array> {
    const t = this.tensor(key)
    if (PLAIN[t.type.name]) return this.readStored(t)
    const f = await this.readF32(key)
    return new Uint8Array(f.buffer, f.byteOffset, f.byteLength)
  }

  async readF32(key: string): Promise<Float32Array> {
    const t = this.tensor(key)
    const bytes = await this.readStored(t)
    const name = t.type.name
    if (isQuantName(name)) return dequantize(name, bytes, t.count)
    return bytesToF32(PLAIN[name], bytes, t.count)
  }

  private readStored(t: GgufTensor): Promise<Uint8Array> { return readExactly(this.fh, this.file, t.byteLength, t.start) }

  async close(): Promise<void> { await this.fh.close() }
}
