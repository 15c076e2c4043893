/**
 * An in-memory stand-in for the parts of node:fs/promises' FileHandle the readers use (read, stat, close), so a
 * fuzz case costs no disk I/O. It validates arguments as Node does (a reader passing a NaN or negative position gets
 * the same non-SdError Node would throw, which the harness reports), and it reports a read that asks for more than
 * 1 MiB past the end of the file: the reader allocated a buffer sized from a number it had not checked.
 */
import type { FileHandle } from 'node:fs/promises'
import { FuzzFinding } from './harness.ts'

const OVERREAD_SLACK = 1024 * 1024

export function memoryFile(bytes: Uint8Array): { fh: FileHandle; size: number } {
  let closed = false
  const fh = {
    async read(buffer: Uint8Array, offset: number, length: number, position: number) {
      if (closed) throw new Error('read after close')
      for (const [what, v] of [['offset', offset], ['length', length], ['position', position]] as const) {
        if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`The value of "${what}" is out of range. Received ${v}`)
      }
      if (offset + length > buffer.length) throw new RangeError(`The value of "length" is out of range (buffer ${buffer.length})`)
      if (position + length > bytes.length + OVERREAD_SLACK) {
        throw new FuzzFinding(`a read of ${length} bytes at ${position} in a ${bytes.length}-byte file: the buffer was sized from an unchecked number`)
      }
      const n = Math.max(0, Math.min(length, bytes.length - position))
      buffer.set(bytes.subarray(position, position + n), offset)
      return { bytesRead: n, buffer }
    },
    async stat() { return { size: bytes.length, isFile: () => true } },
    async close() { closed = true },
  }
  return { fh: fh as unknown as FileHandle, size: bytes.length }
}
