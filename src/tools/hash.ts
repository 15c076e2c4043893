/**
 * Model file hashes as A1111 and Civitai show them, with a JSON cache so a second call is instant.
 *   sha256  full SHA-256 (64 hex)
 *   autov2  first 10 hex of the SHA-256 (A1111's checkpoint "Model hash" since 1.x)
 *   autov3  first 12 hex of the SHA-256 of a safetensors file's data after its header (A1111's LoRA short hash,
 *           "addnet"); for other files A1111 falls back to the plain SHA-256 (networks/network.py
 *           `read_hash`: `use_addnet_hash=self.is_safetensors`), and so does this
 *   autov1  first 8 hex of the SHA-256 of 64 KiB at 1 MiB (A1111's legacy checkpoint hash)
 * The cache (`<cacheDir>/hashes.json`) is keyed by absolute path and checked against size + mtime; full digests
 * are stored, short forms derived. Two processes writing at once may lose one's new entries (never corrupt the
 * file: writes are atomic); the hashes are then simply computed again next time.
 */
import { mkdir, open, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { cacheDir } from '../core/cache-dir.ts'
import { writeFileAtomic } from '../core/atomic-write.ts'
import { InputError, SdError, TensorFileError } from '../core/errors.ts'
import { digestFile, safetensorsDataStart, type DigestKind, type DigestOptions } from './hash-stream.ts'

export const HASH_KINDS = ['sha256', 'autov2', 'autov3', 'autov1'] as const
export type HashKind = (typeof HASH_KINDS)[number]

export const isHashKind = (s: string): s is HashKind => (HASH_KINDS as readonly string[]).includes(s)

/** The cache file is unreadable JSON: named, with the fix. */
export class HashCacheError extends SdError {
  override name = 'HashCacheError'
  constructor(readonly file: string, detail: string) {
    super(`hash cache ${file}: ${detail}. Hint: delete the file; it is rebuilt on the next hash.`)
  }
}

interface CacheEntry { size: number; mtimeMs: number; digests: Partial<Record<DigestKind, string>> }
interface CacheFile { version: 1; files: Record<string, CacheEntry> }

export interface HashOptions extends DigestOptions {
  /** false: neither read nor write the cache. */
  readonly cache?: boolean
  /** Cache folder; default core/cache-dir's `cacheDir()`. */
  readonly cacheDir?: string
}

const cachePath = (opts: HashOptions) => join(opts.cacheDir ?? cacheDir(), 'hashes.json')

async function readCache(file: string): Promise<CacheFile> {
  let text: string
  try { text = await readFile(file, 'utf8') } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, files: {} }
    throw new HashCacheError(file, `cannot read: ${(e as Error).message}`)
  }
  let json: unknown
  try { json = JSON.parse(text) } catch (e) { throw new HashCacheError(file, `not valid JSON (${(e as Error).message})`) }
  const c = json as Partial<CacheFile>
  if (c?.version !== 1 || typeof c.files !== 'object' || c.files === null) throw new HashCacheError(file, 'unknown layout (expected {"version": 1, "files": {…}})')
  return c as CacheFile
}

/** Which full digests a set of hash kinds needs; autov3 depends on whether the file is safetensors. */
async function digestsFor(file: string, kinds: readonly HashKind[]): Promise<Set<DigestKind>> {
  const need = new Set<DigestKind>()
  for (const k of kinds) {
    if (k === 'sha256' || k === 'autov2') need.add('sha256')
    else if (k === 'autov1') need.add('autov1')
    else need.add((await isSafetensors(file)) ? 'addnet' : 'sha256')
  }
  return need
}

async function isSafetensors(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try { return (await safetensorsDataStart(fh, (await fh.stat()).size)) !== undefined } finally { await fh.close() }
}

function shortForms<K extends HashKind>(kinds: readonly K[], d: Partial<Record<DigestKind, string>>): Record<K, string> {
  const out = {} as Record<K, string>
  for (const k of kinds) {
    const v = k === 'sha256' ? d.sha256 : k === 'autov2' ? d.sha256?.slice(0, 10)
      : k === 'autov1' ? d.autov1?.slice(0, 8) : (d.addnet ?? d.sha256)?.slice(0, 12)
    if (v === undefined) throw new Error(`internal: digest for ${k} was not computed`)
    out[k] = v
  }
  return out
}

/** Hashes `path`; every requested kind in one pass over the file, cached by path + size + mtime. */
export async function hashFile<K extends HashKind>(path: string, kinds: readonly K[], opts: HashOptions = {}): Promise<Record<K, string>> {
  for (const k of kinds) if (!isHashKind(k)) throw new InputError(`unknown hash kind "${k}"; known: ${HASH_KINDS.join(', ')}`)
  const abs = resolve(path)
  let st
  try { st = await stat(abs) } catch (e) { throw new TensorFileError(abs, undefined, `cannot read: ${(e as Error).message}`) }
  if (!st.isFile()) throw new TensorFileError(abs, undefined, 'is not a regular file')
  const need = await digestsFor(abs, kinds)
  const useCache = opts.cache !== false
  const cfile = cachePath(opts)
  const cache = useCache ? await readCache(cfile) : undefined
  const hit = cache?.files[abs]
  const known = hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs ? hit.digests : {}
  const missing = new Set([...need].filter((d) => known[d] === undefined))
  if (missing.size === 0) return shortForms(kinds, known)
  const fresh = await digestFile(abs, missing, opts)
  const digests = { ...known, ...fresh }
  if (useCache) {
    const latest = await readCache(cfile)
    latest.files[abs] = { size: st.size, mtimeMs: st.mtimeMs, digests }
    await mkdir(join(cfile, '..'), { recursive: true })
    await writeFileAtomic(cfile, `${JSON.stringify(latest, null, 1)}\n`)
  }
  return shortForms(kinds, digests)
}
