import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SdError } from './errors.ts'

/** The file system refused the bytes (full disk, file-size limit, quota); the target was left as it was. */
export class DiskFullError extends SdError {
  override name = 'DiskFullError'
  constructor(readonly file: string, readonly errno: string) {
    super(`${file}: cannot write: ${errno === 'EFBIG' ? 'the file-size limit was reached' : errno === 'EDQUOT' ? 'the disk quota is exceeded' : 'the disk is full'} `
      + `(${errno}); nothing was written and any previous file is unchanged. Hint: free space or write to another folder`, { code: 'disk-full' })
  }
}
const DISK_FULL = new Set(['ENOSPC', 'EFBIG', 'EDQUOT'])

/** A sibling temp path in the same folder (so the final rename stays on one file system). */
export const tempPathFor = (file: string): string =>
  join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)

/**
 * Runs `write` against a temp file next to `file`, fsyncs, and renames it into place.
 * On any failure the temp file is removed and `file` is left as it was.
 */
export async function withAtomicFile<T>(file: string, write: (fh: FileHandle, tempPath: string) => Promise<T>): Promise<T> {
  const tmp = tempPathFor(file)
  const fh = await open(tmp, 'wx')
  try {
    const result = await write(fh, tmp)
    await fh.sync()
    await fh.close()
    await rename(tmp, file)
    return result
  } catch (e) {
    await fh.close().catch(() => undefined)
    await rm(tmp, { force: true })
    const code = (e as NodeJS.ErrnoException).code
    throw code !== undefined && DISK_FULL.has(code) ? new DiskFullError(file, code) : e
  }
}

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await withAtomicFile(file, async (fh) => { await fh.writeFile(data) })
}
