/*
 * safetensors writer (format: see safetensors.ts). The header needs every name, dtype and shape before the first
 * data byte, so the caller hands over the whole list up front while each tensor's bytes may be produced lazily:
 * a 7 GB conversion then holds one tensor in memory at a time. The header is padded with spaces so the data area
 * starts 8-byte aligned (as the reference writer does). Output goes to a temp file renamed into place.
 */
import type { FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'
import { DTYPE_BYTES, isDType, type DType } from '../core/dtype.ts'
import { withAtomicFile } from '../core/atomic-write.ts'
import { checkedCount } from './safetensors.ts'

export interface WriteTensor {
  readonly name: string
  readonly dtype: DType
  readonly shape: readonly number[]
  /** The little-endian bytes, or a function producing them when the writer reaches this tensor. */
  readonly data: Uint8Array | (() => Promise<Uint8Array>)
}

export interface WriteOptions {
  readonly metadata?: Readonly<Record<string, string>>
  /** Called after each tensor with the bytes written so far and the final file size. */
  readonly onProgress?: (bytes: number, total: number) => void
}

interface Planned { readonly tensor: WriteTensor; readonly byteLength: number }

function plan(file: string, tensors: readonly WriteTensor[]): Planned[] {
  const seen = new Set<string>()
  return tensors.map((t) => {
    const fail = (detail: string): never => { throw new TensorFileError(file, t.name, `cannot write: ${detail}`) }
    if (t.name === '__metadata__') fail('"__metadata__" is reserved for the metadata map')
    if (seen.has(t.name)) fail('the name occurs twice in the tensor list')
    seen.add(t.name)
    if (!isDType(t.dtype)) fail(`unknown dtype ${JSON.stringify(t.dtype)}`)
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`)
    return { tensor: t, byteLength: checkedCount(t.shape, fail) * DTYPE_BYTES[t.dtype] }
  })
}

/** The 8-byte length prefix plus the space-padded JSON header. */
export function encodeSafetensorsHeader(items: readonly { name: string; dtype: DType; shape: readonly number[]; byteLength: number }[],
  metadata?: Readonly<Record<string, string>>): Uint8Array {
  const header: Record<string, unknown> = {}
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata }
  let offset = 0
  for (const it of items) {
    header[it.name] = { dtype: it.dtype, shape: [...it.shape], data_offsets: [offset, offset + it.byteLength] }
    offset += it.byteLength
  }
  const json = new TextEncoder().encode(JSON.stringify(header))
  const padded = Math.ceil(json.length / 8) * 8
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true)
  out.set(json, 8)
  return out
}

async function collect<T>(items: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const it of items) out.push(it)
  return out
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position + done)
    done += bytesWritten
  }
}

export async function writeSafetensors(file: string, tensors: Iterable<WriteTensor> | AsyncIterable<WriteTensor>,
  opts: WriteOptions = {}): Promise<void> {
  for (const [k, v] of Object.entries(opts.metadata ?? {})) {
    if (typeof v !== 'string') throw new TensorFileError(file, '__metadata__', `cannot write: value of "${k}" is ${typeof v}, expected a string`)
  }
  const planned = plan(file, await collect(tensors))
  const header = encodeSafetensorsHeader(planned.map((p) => ({ ...p.tensor, byteLength: p.byteLength })), opts.metadata)
  const total = header.byteLength + planned.reduce((a, p) => a + p.byteLength, 0)
  await withAtomicFile(file, async (fh) => {
    await writeAll(fh, header, 0)
    let pos = header.byteLength
    opts.onProgress?.(pos, total)
    for (const { tensor, byteLength } of planned) {
      const data = typeof tensor.data === 'function' ? await tensor.data() : tensor.data
      if (data.byteLength !== byteLength) {
        throw new TensorFileError(file, tensor.name, `cannot write: got ${data.byteLength} bytes, but ${tensor.dtype} [${tensor.shape.join(', ')}] needs ${byteLength}`)
      }
      await writeAll(fh, data, pos)
      pos += byteLength
      opts.onProgress?.(pos, total)
    }
  })
}

export { encodeF32As } from './f32-encode.ts'
