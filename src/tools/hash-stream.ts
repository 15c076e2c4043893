/**
 * One streaming pass over a file computing every requested digest. Definitions (A1111 webui @ c8a5322d):
 *   sha256  SHA-256 of the whole file (modules/hashes.py `calculate_sha256`); AutoV2 = its first 10 hex digits.
 *   addnet  SHA-256 of everything after the safetensors header, i.e. from byte 8 + N to the end
 *           (modules/hashes.py `addnet_hash_safetensors`); AutoV3 / A1111's LoRA short hash = its first 12 hex.
 *   autov1  SHA-256 of the 0x10000 bytes at offset 0x100000 (fewer if the file is shorter), first 8 hex
 *           (modules/sd_models.py `model_hash`).
 * Reads are large (16 MiB) and double-buffered: the next read runs in libuv's pool while this chunk is hashed.
 */
import { createHash, type Hash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'

export type DigestKind = 'sha256' | 'addnet' | 'autov1'

export const CHUNK_BYTES = 16 * 1024 * 1024
const AUTOV1_START = 0x100000
const AUTOV1_LENGTH = 0x10000

/** Offset where a safetensors file's data starts (8 + N), or undefined when the file is not safetensors. */
export async function safetensorsDataStart(fh: FileHandle, size: number): Promise<number | undefined> {
  if (size < 9) return undefined
  const head = new Uint8Array(9)
  await fh.read(head, 0, 9, 0)
  const n = new DataView(head.buffer).getBigUint64(0, true)
  return head[8] === 0x7b && n <= BigInt(size - 8) ? 8 + Number(n) : undefined
}

interface Sink { readonly hash: Hash; readonly from: number; readonly to: number }

function feed(sinks: readonly Sink[], chunk: Uint8Array, pos: number): void {
  const end = pos + chunk.byteLength
  for (const s of sinks) {
    const a = Math.max(s.from, pos)
    const b = Math.min(s.to, end)
    if (a < b) s.hash.update(chunk.subarray(a - pos, b - pos))
  }
}

async function readFull(fh: FileHandle, buf: Uint8Array, length: number, position: number): Promise<number> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}

export interface DigestOptions {
  readonly onProgress?: (bytes: number, total: number) => void
  readonly chunkBytes?: number
}

/**
 * Computes the requested digests (full 64-hex strings). `addnet` is only defined for safetensors files:
 * asking for it on another file throws, naming the file.
 */
export async function digestFile(file: string, kinds: ReadonlySet<DigestKind>, opts: DigestOptions = {}): Promise<Partial<Record<DigestKind, string>>> {
  let fh: FileHandle
  try { fh = await open(file, 'r') } catch (e) { throw new TensorFileError(file, undefined, `cannot open: ${(e as Error).message}`) }
  try {
    const { size } = await fh.stat()
    const sinks: (Sink & { kind: DigestKind })[] = []
    if (kinds.has('sha256')) sinks.push({ kind: 'sha256', hash: createHash('sha256'), from: 0, to: size })
    if (kinds.has('autov1')) sinks.push({ kind: 'autov1', hash: createHash('sha256'), from: AUTOV1_START, to: AUTOV1_START + AUTOV1_LENGTH })
    if (kinds.has('addnet')) {
      const start = await safetensorsDataStart(fh, size)
      if (start === undefined) throw new TensorFileError(file, undefined, 'the LoRA hash (AutoV3/addnet) is defined for safetensors files only, and this is not one')
      sinks.push({ kind: 'addnet', hash: createHash('sha256'), from: start, to: size })
    }
    const from = Math.min(...sinks.map((s) => s.from))
    const to = Math.max(...sinks.map((s) => Math.min(s.to, size)))
    await streamRange(fh, { file, from, to, total: size }, sinks, opts)
    return Object.fromEntries(sinks.map((s) => [s.kind, s.hash.digest('hex')]))
  } finally {
    await fh.close()
  }
}

async function streamRange(fh: FileHandle, range: { file: string; from: number; to: number; total: number }, sinks: readonly Sink[], opts: DigestOptions): Promise<void> {
  const chunk = Math.min(opts.chunkBytes ?? CHUNK_BYTES, Math.max(range.to - range.from, 1))
  const bufs = [new Uint8Array(chunk), new Uint8Array(chunk)]
  let pos = range.from
  let i = 0
  let pending = pos < range.to ? readFull(fh, bufs[0], Math.min(chunk, range.to - pos), pos) : Promise.resolve(0)
  while (pos < range.to) {
    const n = await pending
    if (n === 0) throw new TensorFileError(range.file, undefined, `the file shrank while being hashed (no data at offset ${pos})`)
    const next = pos + n
    pending = next < range.to ? readFull(fh, bufs[(i + 1) % 2], Math.min(chunk, range.to - next), next) : Promise.resolve(0)
    feed(sinks, bufs[i % 2].subarray(0, n), pos)
    pos = next
    i++
    opts.onProgress?.(pos, range.total)
  }
}
