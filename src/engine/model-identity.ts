/*
 * A checkpoint's identity is its content: the SHA-256 of the file, so a copy or a symlink of a loaded checkpoint is
 * the same model and loads once. Hashing a multi-gigabyte file costs seconds (docs/decisions.md, "Model identity by
 * content"), so it happens once per file version: the fast identity (real path, size, mtime) maps to the SHA-256
 * once known, here in memory, in tools/hash.ts's cache file across processes, and in the caller's library (its
 * ModelResolver.knownSha256) before either. A replaced file has a new fast identity and is hashed again.
 */
import { realpath, stat } from 'node:fs/promises'
import { InputError } from '../core/errors.ts'
import { hashFile } from '../tools/hash.ts'

/** Real path, size and mtime: what changes when a file is replaced, without reading it. */
export async function fastIdentity(file: string, field: string): Promise<string> {
  const st = await stat(file).catch(() => undefined)
  if (!st?.isFile()) throw new InputError([{ code: 'not-found', path: [field], message: `${file}: no such file` }])
  return `${await realpath(file)}\t${st.size}\t${st.mtimeMs}`
}

export const isSha256 = (s: string): boolean => /^[0-9a-f]{64}$/i.test(s)

export class ContentIds {
  /** Fast identity → SHA-256 (a promise, so concurrent callers hash a file once). */
  private readonly known = new Map<string, Promise<string>>()
  /** How many files were hashed here (tests and the benchmark count them). */
  hashed = 0

  constructor(private readonly hashCache: boolean) {}

  /**
   * The SHA-256 of `file`. `hint` is the caller's own record of it (a library that hashed the file already); it is
   * trusted as the resolver is trusted with the path. `onHash` hears the bytes read when the file is hashed here
   * (a caller waiting on another caller's hash of the same file hears nothing).
   */
  async sha256(file: string, field: string, hint?: () => Promise<string | undefined>, onHash?: (done: number, total: number) => void): Promise<string> {
    const fast = await fastIdentity(file, field)
    let sha = this.known.get(fast)
    if (sha === undefined) {
      sha = (async () => {
        const given = await hint?.()
        if (given !== undefined && isSha256(given)) return given.toLowerCase()
        this.hashed++
        return (await hashFile(file, ['sha256'], { cache: this.hashCache, ...(onHash ? { onProgress: onHash } : {}) })).sha256
      })()
      this.known.set(fast, sha)
      sha.catch(() => { if (this.known.get(fast) === sha) this.known.delete(fast) })
    }
    return sha
  }
}
