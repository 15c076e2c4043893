/** Positional file reads shared by every tensor-file reader: open with clear errors, read exact byte ranges. */
import { open, type FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'

const OPEN_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a tensor file',
}

/** Opens `file` read-only; a missing file, a folder or an unreadable file is a TensorFileError. */
export async function openForRead(file: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle
  try {
    fh = await open(file, 'r')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? ''
    throw new TensorFileError(file, undefined, OPEN_ERRORS[code] ?? `cannot open (${(e as Error).message})`)
  }
  const st = await fh.stat()
  if (!st.isFile()) {
    await fh.close()
    throw new TensorFileError(file, undefined, OPEN_ERRORS.EISDIR)
  }
  return { fh, size: st.size }
}

/** Reads exactly `length` bytes at `position`; a short read means the file is truncated. */
export async function readExactly(fh: FileHandle, file: string, length: number, position: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length)
  await readInto(fh, file, buf, position)
  return buf
}

/** Fills `dst` from the file at `position` (a caller-owned destination: no temporary array to allocate and fault in). */
export async function readInto(fh: FileHandle, file: string, dst: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < dst.byteLength) {
    const { bytesRead } = await fh.read(dst, done, dst.byteLength - done, position + done)
    if (bytesRead === 0) {
      throw new TensorFileError(file, undefined, `file is truncated: expected ${dst.byteLength} bytes at offset ${position}, got ${done}`)
    }
    done += bytesRead
  }
}
