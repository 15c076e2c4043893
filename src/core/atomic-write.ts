import { lstat, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises'
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

/** tempPathFor's names: `.<target>.<pid>.<8 hex>.tmp` (group 1: the writer's pid). */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/
const STARTED_AT = Date.now() - process.uptime() * 1000
const swept = new Set<string>()

/** False only when no process has this pid (ESRCH); EPERM means another user's live process. */
function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code !== 'ESRCH' }
}

/**
 * Removes the temp files a killed writer left in `dir` (kill -9, power loss): only our own naming pattern, only
 * files older than this process whose writer's pid no longer runs (a live writer's temp file is never touched).
 * Returns the names removed. withAtomicFile sweeps each folder once per process, before its first write there.
 */
export async function sweepStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = []
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(TEMP_NAME.exec(name)?.[1] ?? NaN)
    if (!(pid > 1) || pid === process.pid || processAlive(pid)) continue
    const path = join(dir, name)
    const st = await lstat(path).catch(() => undefined)
    if (!st?.isFile() || st.mtimeMs >= STARTED_AT) continue
    await rm(path, { force: true })
    removed.push(name)
  }
  return removed
}

/**
 * Runs `write` against a temp file next to `file`, fsyncs, and renames it into place.
 * On any failure the temp file is removed and `file` is left as it was.
 */
export async function withAtomicFile<T>(file: string, write: (fh: FileHandle, tempPath: string) => Promise<T>): Promise<T> {
  if (!swept.has(dirname(file))) { swept.add(dirname(file)); await sweepStaleTemps(dirname(file)) }
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
